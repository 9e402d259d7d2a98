#!/usr/bin/env python
"""Benchmark: delivering assignments into a real scim2-server, beside a plain HTTP floor.
See bench/README.md.

    python bench/scim_delivery.py [--n 500]

Exits 1 when a check fails (CHECK FAILED is printed), 2 when it cannot run, 0 otherwise.
"""

import argparse
import json
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from expiry_dataset import insert_users, truncate  # noqa: E402 - beside this script
from expiry_sweep import check, finish, open_bench_database, row  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_scim"
BENCH_DOMAIN = "scim-bench.example"
FLOOR_DOMAIN = "scim-floor.example"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500,
                        help="assignments to deliver, one new person each (default 500)")
    parser.add_argument("--keep", action="store_true", help="leave the data set in place")
    parser.add_argument("--force", action="store_true",
                        help="run on a database whose name does not contain 'bench' (its "
                             "governance tables are TRUNCATED)")
    args = parser.parse_args()
    if args.n < 1:
        parser.error("--n must be at least 1")
    return args


# ------------------------------------------------------------------------------ SCIM servers

def start_server(log_dir: Path, name: str):
    """A real scim2-server on a free loopback port, with its own bearer token."""
    from tests.scim_server import ScimServer

    server = ScimServer(token=secrets.token_urlsafe(24), log_path=log_dir / f"{name}.log")
    server.start()
    return server


def scim_total(server, path: str) -> int:
    """totalResults of a SCIM list (without fetching the resources)."""
    return server._call("GET", path, params={"count": 0}).json()["totalResults"]


# ---------------------------------------------------------------------------------- data set

def build(n: int, base_url: str, token: str, group_id: str) -> dict:
    """A SCIM system and one catalog with the Member role of one SCIM group in one package;
    n new users, each with a `delivering` assignment, its request, and one pending grant due
    now. Only the SCIM group exists in the server: nobody has an account there yet."""
    from django.db import connection, transaction

    from governance.choices import AllowedTargetScope, ExpirationType, OriginSystem
    from governance.models import (
        AccessPackage,
        AssignmentPolicy,
        Catalog,
        Resource,
        ResourceRole,
        ResourceRoleScope,
        TargetSystem,
        TenantSettings,
    )
    from governance.security import secrets as portal_secrets

    truncate()
    with transaction.atomic():
        TenantSettings.current()
        system = TargetSystem.objects.create(
            display_name="Bench SCIM", kind="scim", base_url=base_url,
            secret_encrypted=portal_secrets.encrypt(token))
        catalog = Catalog.objects.create(display_name="Bench catalog")
        package = AccessPackage.objects.create(catalog=catalog, display_name="Bench package")
        resource_ = Resource.objects.create(
            catalog=catalog, display_name="Bench SCIM group", origin_system=OriginSystem.SCIM_GROUP,
            origin_id=group_id, connector="scim", system=system)
        role = ResourceRole.objects.create(resource=resource_, display_name="Member",
                                           origin_id="Member")
        ResourceRoleScope.objects.create(access_package=package, role=role)
        policy = AssignmentPolicy.objects.create(
            access_package=package, display_name="Bench policy",
            allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
            is_approval_required_for_add=False, expiration_type=ExpirationType.AFTER_DURATION,
            send_assignment_emails=True)
        params = {"n": n, "domain": BENCH_DOMAIN, "package": package.pk, "policy": policy.pk,
                  "role": role.pk}
        with connection.cursor() as cur:
            insert_users(cur, n, BENCH_DOMAIN)
            cur.execute("""
                INSERT INTO governance_assignment (access_package_id, policy_id, target_id, state,
                    status, start_at, expires_at, created_at, end_reason)
                SELECT %(package)s, %(policy)s, u.id, 'delivering', 'Delivering',
                    now() - interval '1 minute', now() + interval '365 days',
                    now() - interval '1 minute', ''
                FROM governance_user u WHERE u.email LIKE '%%@' || %(domain)s ORDER BY u.id""",
                        params)
            cur.execute("""
                INSERT INTO governance_assignmentrequest (request_type, state, status,
                    access_package_id, policy_id, requestor_id, target_id, assignment_id,
                    justification, created_at)
                SELECT 'userAdd', 'delivering', 'Delivering', a.access_package_id, a.policy_id,
                    a.target_id, a.target_id, a.id, '', a.created_at
                FROM governance_assignment a ORDER BY a.id""")
            cur.execute("""
                INSERT INTO governance_roledelivery (assignment_id, role_id, action, state,
                    attempts, last_error, note, next_attempt_at)
                SELECT a.id, %(role)s, 'grant', 'pending', 0, '', '', now() - interval '1 second'
                FROM governance_assignment a ORDER BY a.id""", params)
    with connection.cursor() as cur:  # autocommit: VACUUM may not run in a transaction
        cur.execute("VACUUM (ANALYZE) governance_user, governance_assignment, "
                    "governance_assignmentrequest, governance_roledelivery")
    return {"system": system.pk, "group": group_id}


def counts(server, group_id: str) -> dict:
    """What the portal recorded, and what the SCIM service itself holds."""
    from django.db import connection

    from governance.models import SystemAccount

    with connection.cursor() as cur:
        cur.execute("""
            SELECT
              (SELECT count(*) FROM governance_assignment WHERE state = 'delivered'),
              (SELECT count(*) FROM governance_assignmentrequest WHERE state = 'delivered'),
              (SELECT count(*) FROM governance_roledelivery WHERE action = 'grant'
                 AND state = 'done'),
              (SELECT count(*) FROM governance_systemaccount),
              (SELECT count(*) FROM governance_outboxmessage WHERE topic = 'access_delivered'),
              (SELECT count(*) FROM governance_auditevent)""")
        keys = ("delivered", "requests_delivered", "deliveries_done", "system_accounts",
                "emails_queued", "audit")
        result = dict(zip(keys, cur.fetchone(), strict=True))
        cur.execute("SELECT action, count(*) FROM governance_auditevent GROUP BY action "
                    "ORDER BY action")
        result["audit_by_action"] = dict(cur.fetchall())
    members = server.members(group_id)
    accounts = set(SystemAccount.objects.values_list("external_id", flat=True))
    result["group_members"] = len(members)
    result["members_are_accounts"] = set(members) == accounts
    result["scim_users"] = scim_total(server, "/Users")
    return result


# ---------------------------------------------------------------------------- the delivery

def call_kind(response) -> str:
    """"GET /Users", "PATCH /Groups": a request's method and resource type."""
    path = urlsplit(response.request.url).path
    kind = next((part for part in path.split("/") if part in ("Users", "Groups")), path)
    return f"{response.request.method} /{kind.strip('/')}"


def tally(calls: Counter, waited: Counter, response) -> None:
    """Count a request, and add the seconds until its answer's headers came (`elapsed`)."""
    kind = call_kind(response)
    calls[kind] += 1
    waited[kind] += response.elapsed.total_seconds()


def http_counter(calls: Counter, waited: Counter):
    """A `new_session` for the SCIM connector whose sessions tally their requests (a few
    dict updates per response: nothing beside an HTTP round trip)."""
    from governance.connectors import http

    def hook(response, *args, **kwargs):
        tally(calls, waited, response)

    def new_session(**kwargs):
        session = http.new_session(**kwargs)
        session.hooks["response"].append(hook)
        return session

    return new_session


def deliver() -> dict:
    """deliveries_process(), timed; the connector's share (apply_changes) timed apart, the
    SQL statements and the SCIM connector's HTTP requests counted."""
    from django.db import connection

    from governance.connectors import scim
    from governance.services import delivery

    spent = {"apply": 0.0}
    apply_changes = delivery.apply_changes

    def timed_apply(claimed):
        t = time.perf_counter()
        try:
            return apply_changes(claimed)
        finally:
            spent["apply"] += time.perf_counter() - t

    queries = [0]

    def count_query(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    calls, waited = Counter(), Counter()
    new_session = scim.new_session
    delivery.apply_changes, scim.new_session = timed_apply, http_counter(calls, waited)
    try:
        with connection.execute_wrapper(count_query):
            t0 = time.perf_counter()
            processed = delivery.deliveries_process()
            total = time.perf_counter() - t0
    finally:
        delivery.apply_changes, scim.new_session = apply_changes, new_session
    return {"total_s": total, "apply_s": spent["apply"], "processed": processed,
            "queries": queries[0], "calls": calls, "waited": waited}


# ------------------------------------------------------------------------------- the floor

def floor(server, group_id: str, n: int) -> dict:
    """The requests the connector makes for a new person, from a plain requests.Session:
    GET /Users filtered by externalId, by userName and by emails.value (all empty),
    POST /Users, PATCH the group to add the member. No portal work."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.headers["Accept"] = "application/scim+json, application/json"
    session.headers["Authorization"] = f"Bearer {server.token}"
    scim_json = {"Content-Type": "application/scim+json"}
    users, group = f"{server.base_url}/Users", f"{server.base_url}/Groups/{group_id}"
    calls, waited = Counter(), Counter()
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        ext, mail = str(1_000_000 + i), f"floor{i}@{FLOOR_DOMAIN}"
        for condition in (f'externalId eq "{ext}"', f'userName eq "{mail}"',
                          f'emails.value eq "{mail}"'):
            response = session.get(users, params={"startIndex": 1, "count": 2,
                                                  "filter": condition, "attributes": "id"})
            response.raise_for_status()
            assert response.json()["Resources"] == [], response.text
            tally(calls, waited, response)
        response = session.post(users, headers=scim_json, data=json.dumps({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": mail,
            "externalId": ext, "active": True, "displayName": f"Floor user {i}",
            "emails": [{"value": mail, "type": "work", "primary": True}]}).encode())
        response.raise_for_status()
        user_id = response.json()["id"]
        tally(calls, waited, response)
        response = session.patch(group, headers=scim_json, data=json.dumps({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members",
                            "value": [{"value": user_id}]}]}).encode())
        response.raise_for_status()
        tally(calls, waited, response)
    total = time.perf_counter() - t0
    session.close()
    return {"total_s": total, "calls": calls, "waited": waited}


# ----------------------------------------------------------------------------- reporting

def per_person(run: dict, n: int) -> str:
    """"GET /Users 3 x 9.1 ms, ...": requests per person, and the mean wait for an answer."""
    return ", ".join(f"{kind} {count / n:g} x {1000 * run['waited'][kind] / count:.1f} ms"
                     for kind, count in sorted(run["calls"].items())) or "none"


def main() -> int:
    args = parse_args()
    opened = open_bench_database("scim_delivery", DEFAULT_URL, force=args.force)
    if opened is None:
        return 2
    name, version = opened

    n = args.n
    print(f"SCIM delivery benchmark: {n:,} assignments, one new person and one SCIM group "
          f"Member role each, into scim2-server on loopback; PostgreSQL {version} ({name}), "
          "broker memory://")

    problems = []
    servers = []  # stopped at the end, whatever happens
    with tempfile.TemporaryDirectory(prefix="scim-bench-") as log_dir:
        try:
            portal_server = start_server(Path(log_dir), "portal")
            servers.append(portal_server)
            floor_server = start_server(Path(log_dir), "floor")
            servers.append(floor_server)
            t = time.perf_counter()
            group_id = portal_server.create_group("Bench group")
            build(n, portal_server.base_url, portal_server.token, group_id)
            print(f"  data set built in {time.perf_counter() - t:.1f} s")

            measured = deliver()
            after = counts(portal_server, group_id)
            problems += check("delivery", after, {
                "delivered": n, "requests_delivered": n, "deliveries_done": n,
                "system_accounts": n, "group_members": n, "members_are_accounts": True,
                # Per delivery: assignment.rolesGranted, assignment.delivered, request.delivered.
                "scim_users": n, "emails_queued": n, "audit": 3 * n})
            print(f"  audit rows by action: {after['audit_by_action']}")

            floor_group = floor_server.create_group("Floor group")
            floored = floor(floor_server, floor_group, n)
            problems += check("floor", {"group_members": len(floor_server.members(floor_group)),
                                        "scim_users": scim_total(floor_server, "/Users")},
                              {"group_members": n, "scim_users": n})
        except Exception:
            for server in servers:
                print(f"--- {server.log_path.name} (last lines) ---\n{server._log()}")
            raise
        finally:
            for server in servers:
                server.stop()

    total, apply_s = measured["total_s"], measured["apply_s"]
    print(f"  deliveries processed: {measured['processed']:,}")
    print(f"  HTTP requests per delivery: {per_person(measured, n)}")
    print(f"  floor's requests per person: {per_person(floored, n)}")
    if {k: v / n for k, v in measured["calls"].items()} != \
            {k: v / n for k, v in floored["calls"].items()}:
        print("  NOTE the connector no longer makes the floor's requests: update floor()")
    print()
    print(f"  {'':<44}{'measured':>10}")
    row("deliveries_process(): total", total, "s")
    row("  of which the connector (apply_changes)", apply_s, "s")
    row("    of which waiting for scim2-server", sum(measured["waited"].values()), "s")
    row("  the rest: claim, record, assignment states", total - apply_s, "s")
    row("deliveries per second", n / total, "/s")
    row("floor: the same requests, plain requests", floored["total_s"], "s")
    row("  of which waiting for scim2-server", sum(floored["waited"].values()), "s")
    row("floor: people per second", n / floored["total_s"], "/s")
    row("ratio delivery / floor", total / floored["total_s"], "x")
    row("SQL statements per delivered assignment", measured["queries"] / n, "")
    print(f"\n  {n:,} deliveries in {total:.2f} s ({n / total:,.1f}/s); floor "
          f"{floored['total_s']:.2f} s; ratio {total / floored['total_s']:.2f}x floor")
    return finish(problems, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
