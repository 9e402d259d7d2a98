#!/usr/bin/env python
"""Benchmark: an identity provider's first push over SCIM (people with managers, groups with
members) into the portal over HTTP with scim2-client, beside a set-based SQL floor of the
same rows. See bench/README.md.

    python bench/scim_sync.py [--users 10000] [--groups 500] [--members 100]

Exits 1 when a check fails (CHECK FAILED is printed), 2 when it cannot run, 0 otherwise.
"""

import argparse
import gc
import sys
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from expiry_dataset import truncate  # noqa: E402 - beside this script
from expiry_sweep import check, finish, maxrss_mb, open_bench_database, row  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_scim_sync"
DOMAIN = "sync-bench.example"
AIM_RATIO = 10.0
REPORTS = 10  # people per manager


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000, help="people (default 10000)")
    parser.add_argument("--groups", type=int, default=500, help="groups (default 500)")
    parser.add_argument("--members", type=int, default=100,
                        help="members per group (default 100: 50,000 memberships)")
    parser.add_argument("--keep", action="store_true", help="leave the data set in place")
    parser.add_argument("--force", action="store_true",
                        help="run on a database whose name does not contain 'bench' (its "
                             "governance tables are TRUNCATED)")
    args = parser.parse_args()
    if args.users < REPORTS or args.groups < 1 or not 1 <= args.members <= args.users:
        parser.error("need --users >= 10, --groups >= 1 and 1 <= --members <= --users")
    return args


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # one line per request would dominate the run
        pass


class ThreadingServer(WSGIServer):
    daemon_threads = True


def serve_portal():
    """The portal's WSGI application on a free loopback port, in a thread of this process."""
    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=ThreadingServer,
                         handler_class=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def scim_client(base_url: str, token: str):
    import httpx2
    from scim2_client.engines.httpx2 import SyncSCIMClient

    http = httpx2.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                         trust_env=False, timeout=30)
    client = SyncSCIMClient(http)
    client.discover()  # the models come from the portal's /Schemas and /ResourceTypes
    return client, http


def person(n: int, manager_id: str | None):
    from scim2_models import Email, EnterpriseUser, Manager, Name, User

    user = User[EnterpriseUser](
        user_name=f"sync{n}@{DOMAIN}", external_id=f"ext-{n}", active=True,
        display_name=f"Sync person {n}", name=Name(given_name="Sync", family_name=str(n)),
        emails=[Email(value=f"sync{n}@{DOMAIN}", primary=True, type="work")], title="Engineer")
    user[EnterpriseUser] = EnterpriseUser(
        department=f"Department {n % 20}", employee_number=str(n),
        manager=Manager(value=manager_id, ref=f"Users/{manager_id}") if manager_id else None)
    return user


def push(client, users: int, groups: int, members: int) -> dict:
    """Managers first (one per REPORTS people), then their reports naming them, then the
    groups with their members: what an identity provider's first cycle sends."""
    from scim2_models import Group, GroupMember

    ids: list[str] = []
    rss = []
    t0 = time.perf_counter()
    managers = users // REPORTS
    for n in range(1, users + 1):
        manager = ids[(n - managers - 1) // REPORTS] if n > managers else None
        ids.append(client.create(person(n, manager)).id)
        if n % max(users // 5, 1) == 0:
            rss.append(round(maxrss_mb()))
    people_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    for g in range(groups):
        chosen = [ids[(g * members + k) % len(ids)] for k in range(members)]
        client.create(Group(display_name=f"Sync group {g}", external_id=f"grp-{g}",
                            members=[GroupMember(value=i, type="User") for i in chosen]))
    groups_s = time.perf_counter() - t1
    return {"people_s": people_s, "groups_s": groups_s, "total_s": time.perf_counter() - t0,
            "rss": rss}


FLOOR = [
    """INSERT INTO governance_user (password, is_superuser, username, first_name, last_name,
           email, is_staff, is_active, date_joined, display_name, user_type, subject_lifecycle,
           account_state, preferred_language, time_zone, external_id, department, job_title,
           employee_id, provisioned_by_id, modified_at)
       SELECT '!', false, 'floor' || g || '@' || %(domain)s, 'Sync', g::text,
           'floor' || g || '@' || %(domain)s, false, true, now(), 'Sync person ' || g,
           'member', 'notDefined', 'active', '', '', 'floor-ext-' || g, 'Department ' || (g %% 20),
           'Engineer', g::text, %(client)s, now()
       FROM generate_series(1, %(users)s) AS g""",
    "ANALYZE governance_user",  # a bulk load tells the planner what it loaded
    # A hash join on the employee number (what the push's people carry as n), not a
    # comparison of every pair of addresses.
    """UPDATE governance_user u SET manager_id = m.id
       FROM governance_user m
       WHERE u.email LIKE 'floor%%' AND m.email LIKE 'floor%%'
         AND u.employee_id::int > %(managers)s
         AND m.employee_id = ((u.employee_id::int - %(managers)s - 1) / %(reports)s + 1)::text""",
    """INSERT INTO governance_group (display_name, description, created_at, external_id,
           provisioned_by_id, modified_at)
       SELECT 'Floor group ' || g, '', now(), 'floor-grp-' || g, %(client)s, now()
       FROM generate_series(0, %(groups)s - 1) AS g""",
    """INSERT INTO governance_groupmembership (group_id, user_id, role, created_at)
       SELECT gr.id, people.ids[((split_part(gr.external_id, '-', 3)::int * %(members)s + k)
                                 %% %(users)s) + 1], 'member', now()
       FROM governance_group gr
       CROSS JOIN generate_series(0, %(members)s - 1) AS k
       CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM governance_user
                   WHERE email LIKE 'floor%%') AS people
       WHERE gr.external_id LIKE 'floor-grp-%%'""",
    """INSERT INTO governance_auditevent (at, actor_id, actor_label, action, object_type,
           object_id, before, after, details)
       SELECT now(), NULL, 'floor', 'user.provisioned', 'user', id::text, NULL, '{}', '{}'
       FROM governance_user WHERE email LIKE 'floor%%'""",
]


def floor(client_id: int, users: int, groups: int, members: int) -> float:
    from django.db import connection, transaction

    params = {"domain": DOMAIN, "client": client_id, "users": users, "groups": groups,
              "members": members, "managers": users // REPORTS, "reports": REPORTS}
    t0 = time.perf_counter()
    steps = []
    with transaction.atomic(), connection.cursor() as cur:
        for statement in FLOOR:
            t = time.perf_counter()
            cur.execute(statement, params)
            steps.append(f"{time.perf_counter() - t:.2f}")
    print(f"  floor statements (s): {', '.join(steps)}")
    return time.perf_counter() - t0


def counts(pattern: str, group_pattern: str) -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""
            SELECT (SELECT count(*) FROM governance_user WHERE email LIKE %(p)s),
                   (SELECT count(*) FROM governance_user WHERE email LIKE %(p)s
                      AND manager_id IS NOT NULL),
                   (SELECT count(*) FROM governance_group WHERE external_id LIKE %(g)s),
                   (SELECT count(*) FROM governance_groupmembership m
                      JOIN governance_group g ON g.id = m.group_id
                      WHERE g.external_id LIKE %(g)s)""", {"p": pattern, "g": group_pattern})
        return dict(zip(("people", "with_manager", "groups", "memberships"), cur.fetchone(),
                        strict=True))


def main() -> int:
    args = parse_args()
    opened = open_bench_database("scim_sync", DEFAULT_URL, force=args.force)
    if opened is None:
        return 2
    name, version = opened
    from governance.services.provisioning_clients import provisioning_client_create

    users, groups, members = args.users, args.groups, args.members
    print(f"SCIM sync benchmark: {users:,} people ({users // REPORTS:,} managers), {groups:,} "
          f"groups x {members} members, PostgreSQL {version} ({name}), over HTTP (wsgiref)")
    truncate()
    record, token = provisioning_client_create(actor=None, display_name="Bench IdP",
                                               system=True)
    server = serve_portal()
    client, http = scim_client(f"http://127.0.0.1:{server.server_port}/scim/v2", token)
    gc.collect()
    rss_before = maxrss_mb()
    measured = push(client, users, groups, members)
    http.close()
    server.shutdown()
    want = {"people": users, "with_manager": users - users // REPORTS, "groups": groups,
            "memberships": groups * members}
    problems = check("push", counts(f"sync%@{DOMAIN}", "grp-%"), want)
    floor_s = floor(record.pk, users, groups, members)
    problems += check("floor", counts(f"floor%@{DOMAIN}", "floor-grp-%"), want)

    ratio = measured["total_s"] / floor_s if floor_s else None
    print()
    row("push: people (POST /Users, managers named)", measured["people_s"], "s")
    row("push: groups (POST /Groups with members)", measured["groups_s"], "s")
    row("push: total", measured["total_s"], "s")
    row("push: per person", measured["people_s"] / users * 1000, "ms")
    row("floor: the same rows, set-based SQL", floor_s, "s")
    row("push / floor", ratio, "x", f"<= {AIM_RATIO:g}x",
        above=ratio is not None and ratio > AIM_RATIO)
    row("peak RSS before the push", rss_before, "MB")
    print(f"  peak RSS during the push, every fifth of the people: {measured['rss']} MB")
    return finish(problems, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
