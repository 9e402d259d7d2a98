#!/usr/bin/env python
"""Benchmark: starting an access review of N assignments, beside a set-based SQL floor. See
bench/README.md.

    python bench/review_start.py [--n 100000] [--skip-tracemalloc]

Exits 1 when a check of the result fails, 2 when it cannot run; a missed aim is only marked.
"""

import argparse
import gc
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Beside this script.
from expiry_sweep import check, finish, maxrss_mb, open_bench_database, row  # noqa: E402
from review_dataset import START, build, counts, expected, reset  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_review"
AIM_SECONDS = 60.0
AIM_RATIO = 10.0
AIM_MB = 100.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000,
                        help="assignments in the review (default 100000)")
    parser.add_argument("--skip-tracemalloc", action="store_true",
                        help="skip the second start that measures Python allocations")
    parser.add_argument("--keep", action="store_true", help="leave the data set in place")
    parser.add_argument("--force", action="store_true",
                        help="run on a database whose name does not contain 'bench' (its "
                             "governance tables are TRUNCATED)")
    return parser.parse_args()


def start(policy_id: int, trace: bool) -> dict:
    from governance.services.review_start import review_start

    gc.collect()
    rss_before = maxrss_mb()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    review = review_start(policy_id=policy_id, start_at=START)
    seconds = time.perf_counter() - t0
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return {"seconds": seconds, "review": review, "tracemalloc_mb": peak,
            "rss_before_mb": rss_before, "rss_after_mb": maxrss_mb()}


# ------------------------------------------------------------------------------- the floor

FLOOR_DECISIONS = """
INSERT INTO governance_reviewdecision (review_id, assignment_id, principal_id, decision,
    justification, reviewed_by_id, reviewed_at, recommendation, recommendation_reason,
    applied_result, applied_at)
SELECT %(review)s, a.id, a.target_id, 'NotReviewed', '', NULL, NULL,
       CASE WHEN u.last_login IS NULL OR u.last_login < %(cutoff)s THEN 'Deny' ELSE 'Approve'
       END,
       CASE WHEN u.last_login IS NULL OR u.last_login < %(cutoff)s
            THEN 'Has not signed in for 30 days' ELSE 'Signed in within the last 30 days' END,
       '', NULL
FROM governance_assignment a JOIN governance_user u ON u.id = a.target_id
WHERE a.policy_id = %(policy)s
  AND a.state IN ('delivering', 'partiallyDelivered', 'delivered', 'deliveryFailed')
ORDER BY a.id
"""

# Not part of the floor: the other rows the start writes, in plain SQL, for context.
BOOKKEEPING = [
    """INSERT INTO governance_decisionreviewer (decision_id, user_id)
       SELECT d.id, d.principal_id FROM governance_reviewdecision d
       WHERE d.review_id = %(review)s""",
    """INSERT INTO governance_outboxmessage (channel, topic, recipient_id, to_address, payload,
           dedupe_key, state, attempts, last_error, created_at, next_attempt_at)
       SELECT 'email', 'review_started', u.id, u.email,
              jsonb_build_object('review_id', %(review)s::bigint),
              'review_started:' || %(review)s || ':' || u.id, 'queued', 0, '', now(), now()
       FROM governance_user u
       WHERE u.id IN (SELECT x.user_id FROM governance_decisionreviewer x
                      JOIN governance_reviewdecision d ON d.id = x.decision_id
                      WHERE d.review_id = %(review)s)
       ORDER BY u.id
       ON CONFLICT (dedupe_key) DO NOTHING""",
    """INSERT INTO governance_auditevent (at, actor_id, actor_label, action, object_type,
           object_id, before, after, details)
       VALUES (now(), NULL, 'system', 'review.started', 'accessreview', %(review)s::text,
               NULL, '{}'::jsonb, '{}'::jsonb)""",
]


def floor(policy_id: int, *, bookkeeping: bool = False) -> float:
    """Seconds for the floor in one transaction, commit included: the review row, then its N
    decisions in one INSERT … SELECT (with `bookkeeping`, also the decision reviewers, the
    emails and the audit event)."""
    from django.db import connection, transaction

    from governance import clock
    from governance.models import AccessReview, AssignmentPolicy
    from governance.models.review_settings import RECOMMENDATION_INACTIVE_DAYS

    policy = AssignmentPolicy.objects.get(pk=policy_id)
    statements = [FLOOR_DECISIONS] + (BOOKKEEPING if bookkeeping else [])
    t0 = time.perf_counter()
    with transaction.atomic():
        review = AccessReview.objects.create(
            policy=policy, access_package_id=policy.access_package_id,
            settings=policy.review_settings, start_at=START, end_at=START,
            created_at=clock.now())
        params = {"review": review.pk, "policy": policy_id,
                  "cutoff": START - timedelta(days=RECOMMENDATION_INACTIVE_DAYS)}
        with connection.cursor() as cur:
            for statement in statements:
                cur.execute(statement, params)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- reporting

def main() -> int:
    args = parse_args()
    opened = open_bench_database("review_start", DEFAULT_URL, force=args.force)
    if opened is None:
        return 2
    name, version = opened

    n = args.n
    print(f"review start benchmark: {n:,} assignments, self-review with recommendations, "
          f"PostgreSQL {version} ({name}), broker memory://")

    problems = []
    t = time.perf_counter()
    ids = build(n)
    print(f"  data set built in {time.perf_counter() - t:.1f} s")
    want = expected(n)
    measured = start(ids["policy"], trace=False)
    problems += check("review_start", counts(), want)

    traced = None
    if not args.skip_tracemalloc:
        reset()
        traced = start(ids["policy"], trace=True)
        problems += check("review_start (tracemalloc)", counts(), want)

    reset()
    floor_s = floor(ids["policy"])
    problems += check("floor", counts(), {"reviews": 1, "decisions": n, "deny": want["deny"]})
    reset()
    floor_plus_s = floor(ids["policy"], bookkeeping=True)
    problems += check("floor + bookkeeping", counts(), want)

    seconds = measured["seconds"]
    ratio = seconds / floor_s
    print()
    print(f"  {'':<44}{'measured':>10} {'':<3} {'aim':<8}")
    row("review_start", seconds, "s", f"< {AIM_SECONDS:g}", seconds >= AIM_SECONDS)
    row("decisions per second", n / seconds, "/s")
    row("floor: INSERT … SELECT of the N decisions", floor_s, "s")
    row("ratio review_start / floor", ratio, "x", f"<= {AIM_RATIO:g}", ratio > AIM_RATIO)
    row("(floor + decision reviewers, emails in SQL)", floor_plus_s, "s")
    row("(ratio review_start / that)", seconds / floor_plus_s, "x")
    if traced is not None:
        row("peak Python allocations (tracemalloc)", traced["tracemalloc_mb"], "MB",
            f"< {AIM_MB:g}", traced["tracemalloc_mb"] >= AIM_MB)
        row("(review_start with tracemalloc on)", traced["seconds"], "s")
    row("peak RSS of the process (ru_maxrss)", measured["rss_after_mb"], "MB")
    row("(ru_maxrss growth during review_start)",
        measured["rss_after_mb"] - measured["rss_before_mb"], "MB")
    return finish(problems, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
