#!/usr/bin/env python
"""Benchmark: the expiry sweep on PostgreSQL, beside a set-based SQL floor. See bench/README.md.

    python bench/expiry_sweep.py [--n 100000] [--no-emails] [--skip-tracemalloc]

Not a test: it always exits 0 once it has measured, and marks figures above the aims.
"""

import argparse
import gc
import logging
import os
import resource
import secrets
import sys
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from expiry_dataset import build, counts, truncate  # noqa: E402 - beside this script

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench"
AIM_RATIO = 5.0
AIM_MB = 300.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="due assignments (default 100000)")
    parser.add_argument("--no-emails", action="store_true",
                        help="policy.send_assignment_emails = False (no access_ended outbox rows)")
    parser.add_argument("--skip-tracemalloc", action="store_true",
                        help="skip the second sweep that measures Python allocations")
    parser.add_argument("--keep", action="store_true", help="leave the data set in place")
    parser.add_argument("--force", action="store_true",
                        help="run on a database whose name does not contain 'bench' (its "
                             "governance tables are TRUNCATED)")
    return parser.parse_args()


def ensure_database(url: str) -> str:
    """Create the database named in `url` if missing (connecting to `postgres`)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")
    return name


def setup_django(url: str) -> None:
    # Before the settings are read: this database, no Redis, no query log.
    os.environ["DATABASE_URL"] = url
    for name in ("DATABASE_URL_FILE", "REDIS_URL", "REDIS_URL_FILE", "DEBUG_FILE"):
        os.environ.pop(name, None)
    os.environ["DEBUG"] = "0"
    # Production settings, on throwaway keys, over plain http (the test client's).
    os.environ.setdefault("SECRET_KEY", "bench-only-" + secrets.token_urlsafe(40))
    os.environ.setdefault("SECRETS_KEY", "bench-only-" + secrets.token_urlsafe(32))
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.conf import settings

    from portal.celery import app

    # The after-commit publishes go to kombu's in-process memory transport: no server, and
    # cheap, so the sweep is measured without broker I/O (settings would pick filesystem://).
    settings.CELERY_BROKER_URL = "memory://"
    app.conf.update(broker_url="memory://", broker_transport_options={})
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


class Counter(logging.Handler):
    """Counts the warnings dispatch logs when a publish fails (it never raises)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += 1


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------------------------- data set

def sweep(trace: bool) -> dict:
    from governance.services.delivery import deliveries_process
    from governance.services.expiry import assignments_expire_due

    gc.collect()
    rss_before = maxrss_mb()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    expired = assignments_expire_due()
    t1 = time.perf_counter()
    processed, rounds = 0, 0
    while True:  # deliveries_process already loops until nothing is claimable
        rounds += 1
        done = deliveries_process()
        processed += done
        if done == 0 or rounds >= 10:
            break
    t2 = time.perf_counter()
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return {"expire_s": t1 - t0, "deliver_s": t2 - t1, "total_s": t2 - t0, "expired": expired,
            "processed": processed, "tracemalloc_mb": peak, "rss_before_mb": rss_before,
            "rss_after_mb": maxrss_mb()}


# ------------------------------------------------------------------------------- the floor

ACTIVE = ["delivering", "partiallyDelivered", "delivered", "deliveryFailed"]

FLOOR_EXPIRE_AND_AUDIT = """
WITH due AS (
    SELECT id, state FROM governance_assignment
    WHERE state = ANY(%(active)s) AND expires_at <= %(now)s
    FOR UPDATE
), ended AS (
    UPDATE governance_assignment a
    SET state = 'expired', status = 'Expired', ended_at = %(now)s, end_reason = 'expired'
    FROM due WHERE a.id = due.id
    RETURNING a.id, due.state AS before_state
)
INSERT INTO governance_auditevent (at, actor_id, actor_label, action, object_type, object_id,
                                   before, after, details)
SELECT %(now)s, NULL, 'system', 'assignment.expired', 'assignment', ended.id::text,
       jsonb_build_object('state', ended.before_state),
       '{"state": "expired", "endReason": "expired"}'::jsonb, '{}'::jsonb
FROM ended
"""

# The memberships the ended assignments' package roles give, on local groups.
FLOOR_REMOVE_MEMBERSHIPS = """
DELETE FROM governance_groupmembership m
USING governance_assignment a, governance_resourcerolescope s, governance_resourcerole r,
      governance_resource res
WHERE a.ended_at = %(now)s AND a.end_reason = 'expired'
  AND s.access_package_id = a.access_package_id AND r.id = s.role_id
  AND res.id = r.resource_id AND res.connector = 'local'
  AND m.user_id = a.target_id AND m.group_id = res.origin_id::bigint
  AND m.role = split_part(r.origin_id, '_', 1)
"""

# Not part of the floor: the rest of what the sweep writes, timed separately for context.
BOOKKEEPING = [
    """UPDATE governance_roledelivery d
       SET action = 'revoke', state = 'done', completed_at = %(now)s, next_attempt_at = NULL
       FROM governance_assignment a
       WHERE d.assignment_id = a.id AND a.ended_at = %(now)s AND a.end_reason = 'expired'""",
    """INSERT INTO governance_auditevent (at, actor_id, actor_label, action, object_type,
                                          object_id, before, after, details)
       SELECT %(now)s, NULL, 'system', 'assignment.rolesRevoked', 'assignment', a.id::text,
              NULL, jsonb_build_object('roles', array_agg(r.origin_id ORDER BY r.id)),
              '{}'::jsonb
       FROM governance_assignment a
       JOIN governance_roledelivery d ON d.assignment_id = a.id
       JOIN governance_resourcerole r ON r.id = d.role_id
       WHERE a.ended_at = %(now)s AND a.end_reason = 'expired' GROUP BY a.id""",
    """INSERT INTO governance_outboxmessage (channel, topic, recipient_id, to_address, payload,
                                             dedupe_key, state, attempts, last_error,
                                             created_at, next_attempt_at)
       SELECT 'email', 'access_ended', a.target_id, u.email,
              jsonb_build_object('assignment_id', a.id),
              'access_ended:' || a.id || ':' || a.target_id, 'queued', 0, '', %(now)s, %(now)s
       FROM governance_assignment a
       JOIN governance_user u ON u.id = a.target_id
       JOIN governance_assignmentpolicy p ON p.id = a.policy_id
       WHERE a.ended_at = %(now)s AND a.end_reason = 'expired' AND p.send_assignment_emails
       ON CONFLICT DO NOTHING""",
]


def floor(*, bookkeeping: bool = False) -> float:
    """Seconds for the floor in one transaction, commit included (with `bookkeeping`, also
    the rest of what the sweep writes)."""
    from django.db import connection, transaction

    from governance import clock

    params = {"now": clock.now(), "active": ACTIVE}
    statements = [FLOOR_EXPIRE_AND_AUDIT, FLOOR_REMOVE_MEMBERSHIPS]
    if bookkeeping:
        statements += BOOKKEEPING
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        for statement in statements:
            cur.execute(statement, params)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- reporting

def check(label: str, got: dict, want: dict) -> list[str]:
    problems = [f"{label}: {key} = {got[key]}, expected {value}"
                for key, value in want.items() if got[key] != value]
    for problem in problems:
        print("  CHECK FAILED " + problem)
    if not problems:
        print(f"  {label}: verified " + ", ".join(f"{k}={v}" for k, v in want.items()))
    return problems


def row(label: str, value: float | None, unit: str, aim: str = "", above: bool = False) -> None:
    shown = "n/a" if value is None else f"{value:,.2f}"
    mark = "  ABOVE AIM" if above else ""
    print(f"  {label:<44}{shown:>10} {unit:<3} {aim:<8}{mark}")


def finish(problems: list[str], *, keep: bool) -> int:
    """The end of every benchmark: say whether its checks failed, empty the governance tables
    unless asked to keep them, and give the exit status (1 when a check failed)."""
    if problems:
        print(f"\n  {len(problems)} check(s) failed: see above")
    if not keep:
        truncate()
        print("\n  bench data truncated (database kept)")
    return 1 if problems else 0


def open_bench_database(script: str, default_url: str, *, force: bool) -> tuple[str, str] | None:
    """Set Django up on DATABASE_URL (default `default_url`), creating the database when it
    is missing; returns (database name, PostgreSQL version), or None after saying why the
    benchmark cannot run there (not PostgreSQL, or a name without "bench" and no --force:
    the benchmarks TRUNCATE the governance tables)."""
    url = os.environ.get("DATABASE_URL") or default_url
    if not url.startswith(("postgres://", "postgresql://")):
        print(f"{script}: needs PostgreSQL, DATABASE_URL is {url.split(':', 1)[0]}://")
        return None
    name = ensure_database(url)
    if "bench" not in name and not force:
        print(f"{script}: refusing to TRUNCATE the governance tables of {name!r}; use a "
              "database whose name contains 'bench', or --force")
        return None
    setup_django(url)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        return name, cur.fetchone()[0]


def main() -> int:
    args = parse_args()
    opened = open_bench_database("expiry_sweep", DEFAULT_URL, force=args.force)
    if opened is None:
        return 2
    name, version = opened

    dispatch_warnings = Counter()
    logging.getLogger("governance.services.internal.dispatch").addHandler(dispatch_warnings)
    emails = not args.no_emails
    n = args.n
    print(f"expiry sweep benchmark: {n:,} due assignments x 2 roles, emails "
          f"{'on' if emails else 'off'}, PostgreSQL {version} ({name}), broker memory://")

    problems = []
    t = time.perf_counter()
    ids = build(n, emails)
    print(f"  data set built in {time.perf_counter() - t:.1f} s")
    measured = sweep(trace=False)
    after = counts(ids["groups"])
    want = {"expired": n, "active": 0, "memberships": 0, "revoked": 2 * n,
            "open_deliveries": 0, "outbox": n if emails else 0, "audit": 2 * n}
    problems += check("sweep", after, want)
    print(f"  audit rows by action: {after['audit_by_action']}")
    print(f"  deliveries processed: {measured['processed']:,}; failed publishes logged: "
          f"{dispatch_warnings.count}")

    traced = None
    if not args.skip_tracemalloc:
        build(n, emails)
        traced = sweep(trace=True)
        problems += check("sweep (tracemalloc)", counts(ids["groups"]), want)

    build(n, emails)
    floor_s = floor()
    problems += check("floor", counts(ids["groups"]),
                      {"expired": n, "active": 0, "memberships": 0, "audit": n})
    build(n, emails)
    floor_plus_s = floor(bookkeeping=True)
    problems += check("floor + bookkeeping", counts(ids["groups"]), want)

    ratio = measured["total_s"] / floor_s
    rss_delta = measured["rss_after_mb"] - measured["rss_before_mb"]
    print()
    print(f"  {'':<44}{'measured':>10} {'':<3} {'aim':<8}")
    row("sweep: expire phase", measured["expire_s"], "s")
    row("sweep: delivery phase", measured["deliver_s"], "s")
    row("sweep: total", measured["total_s"], "s")
    row("floor: set-based SQL, one transaction", floor_s, "s")
    row("ratio sweep / floor", ratio, "x", f"<= {AIM_RATIO:g}", ratio > AIM_RATIO)
    row("(floor + delivery rows, 2nd audit, outbox)", floor_plus_s, "s")
    row("(ratio sweep / that)", measured["total_s"] / floor_plus_s, "x")
    if traced is not None:
        row("peak Python allocations (tracemalloc)", traced["tracemalloc_mb"], "MB",
            f"< {AIM_MB:g}", traced["tracemalloc_mb"] >= AIM_MB)
        row("(sweep time with tracemalloc on)", traced["total_s"], "s")
    row("peak RSS of the process (ru_maxrss)", measured["rss_after_mb"], "MB", f"< {AIM_MB:g}",
        measured["rss_after_mb"] >= AIM_MB)
    row("(ru_maxrss growth during the sweep)", rss_delta, "MB")
    finish(problems, keep=args.keep)
    return 0  # documented: a measurement, not a test


if __name__ == "__main__":
    sys.exit(main())
