#!/usr/bin/env python
"""Benchmark: an automatic policy whose rule matches half of N people, saved through the
policy service and its queued rule evaluation run, beside a floor of one INSERT … SELECT of
the same assignments; then one person's move evaluated against 200 automatic policies.
See bench/README.md.

    python bench/auto_assign.py [--people 100000] [--policies 200]

Exits 1 when a check fails (CHECK FAILED is printed), 2 when it cannot run, 0 otherwise
(a figure above its aim is printed as ABOVE AIM).
"""

import argparse
import gc
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from expiry_dataset import truncate  # noqa: E402 - beside this script
from expiry_sweep import check, finish, maxrss_mb, open_bench_database, row  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_auto_assign"
DOMAIN = "auto-bench.example"
SALES_RULE = 'user.department -eq "Sales"'
AIM_RATIO = 5.0
ACTIVE = ["delivering", "partiallyDelivered", "delivered", "deliveryFailed"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000,
                        help="people, half of them in Sales (default 100000)")
    parser.add_argument("--policies", type=int, default=200,
                        help="automatic policies the mover is evaluated against (default 200)")
    parser.add_argument("--empty", action="store_true",
                        help="start from an empty assignment table (by default everyone "
                             "already holds one assignment of another package)")
    parser.add_argument("--keep", action="store_true", help="leave the data set in place")
    parser.add_argument("--force", action="store_true",
                        help="run on a database whose name does not contain 'bench' (its "
                             "governance tables are TRUNCATED)")
    args = parser.parse_args()
    if args.people < 4 or args.policies < 3:
        parser.error("need --people >= 4 and --policies >= 3")
    return args


class Statements:
    """Counts SQL statements (an execute wrapper: cheaper than CaptureQueriesContext)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def timed(call):
    """(seconds, statements, result) of `call()`."""
    from django.db import connection

    statements = Statements()
    with connection.execute_wrapper(statements):
        t0 = time.perf_counter()
        result = call()
        seconds = time.perf_counter() - t0
    return seconds, statements.count, result


# ---------------------------------------------------------------------------------- data set

def package_with_roles(catalog, name: str, groups: list):
    """A package granting the Member role of each of `groups` (local groups)."""
    from governance.models import AccessPackage, ResourceRoleScope

    package = AccessPackage.objects.create(catalog=catalog, display_name=name)
    for role in groups:
        ResourceRoleScope.objects.create(access_package=package, role=role)
    return package


def build(people: int, *, empty: bool = False) -> dict:
    """A catalog, two local groups, the Sales workspace package granting both and a second
    package for the floor (same roles, a plain policy), an administrator, and `people`
    members in SQL, even numbers in Sales, odd ones in Engineering. Unless `empty`, each of
    them already holds a delivered assignment of a third package (a portal in use: the
    planner sees an assignment table with rows and statistics)."""
    from django.db import connection, transaction

    from governance.choices import AllowedTargetScope, ExpirationType, OriginSystem
    from governance.models import (
        AssignmentPolicy,
        Catalog,
        Group,
        Resource,
        ResourceRole,
        TenantSettings,
        User,
    )

    truncate()
    with transaction.atomic():
        TenantSettings.current()
        catalog = Catalog.objects.create(display_name="Auto bench catalog")
        roles = []
        for name in ("Sales team", "Sales reports"):
            group = Group.objects.create(display_name=name)
            resource = Resource.objects.create(catalog=catalog, display_name=name,
                                               origin_system=OriginSystem.GROUP,
                                               origin_id=str(group.pk), connector="local")
            roles.append(ResourceRole.objects.create(resource=resource, display_name="Member",
                                                     origin_id=f"Member_{group.pk}"))
        package = package_with_roles(catalog, "Sales workspace", roles)
        floor_package = package_with_roles(catalog, "Floor package", roles)
        floor_policy = AssignmentPolicy.objects.create(
            access_package=floor_package, display_name="Floor",
            allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
            is_approval_required_for_add=False, expiration_type=ExpirationType.NO_EXPIRATION,
            expiration_duration=None)
        admin = User.objects.create_superuser(email=f"admin@{DOMAIN}")
        held = package_with_roles(catalog, "Everyone's basics", [])
        held_policy = AssignmentPolicy.objects.create(
            access_package=held, display_name="Basics",
            allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
            is_approval_required_for_add=False, expiration_type=ExpirationType.NO_EXPIRATION,
            expiration_duration=None)
        with connection.cursor() as cur:
            cur.execute("""
                INSERT INTO governance_user (password, is_superuser, username, first_name,
                    last_name, email, is_staff, is_active, date_joined, display_name,
                    user_type, subject_lifecycle, account_state, preferred_language,
                    time_zone, department, job_title, employee_id)
                SELECT '!', false, 'auto' || g || '@' || %(domain)s, '', '',
                    'auto' || g || '@' || %(domain)s, false, true, now(), 'Auto person ' || g,
                    'member', 'notDefined', 'active', '', '',
                    CASE WHEN g %% 2 = 0 THEN 'Sales' ELSE 'Engineering' END,
                    'Job ' || (g %% 50), 'E' || g
                FROM generate_series(1, %(n)s) AS g""", {"n": people, "domain": DOMAIN})
            if not empty:
                cur.execute("""
                    INSERT INTO governance_assignment (access_package_id, policy_id,
                        target_id, state, status, start_at, created_at, end_reason)
                    SELECT %(package)s, %(policy)s, u.id, 'delivered', 'Delivered',
                        now() - interval '30 days', now() - interval '30 days', ''
                    FROM governance_user u WHERE u.email LIKE '%%@' || %(domain)s""",
                            {"package": held.pk, "policy": held_policy.pk, "domain": DOMAIN})
    with connection.cursor() as cur:  # autocommit: VACUUM may not run in a transaction
        cur.execute("VACUUM (ANALYZE) governance_user, governance_assignment, "
                    "governance_assignmentrequest, governance_roledelivery")
    return {"catalog": catalog, "package": package, "floor_package": floor_package,
            "floor_policy": floor_policy, "admin": admin, "roles": roles}


def automatic_spec(name: str, rule: str):
    from governance.choices import ExpirationType
    from governance.services.policy_spec import PolicySpec

    return PolicySpec(display_name=name, is_automatic=True, membership_rule=rule,
                      expiration_type=ExpirationType.NO_EXPIRATION, expiration_duration=None)


# ------------------------------------------------------------------------- rule on save

def apply_on_save(world: dict) -> dict:
    """policy_save (commit included: the RuleEvaluation is queued, its message published to
    memory://), then rule_evaluation_run of that evaluation, each timed."""
    from governance.models import RuleEvaluation
    from governance.services.automatic import rule_evaluation_run
    from governance.services.policies import policy_save

    gc.collect()
    rss_before = maxrss_mb()
    save_s, save_q, policy = timed(lambda: policy_save(
        actor=world["admin"], access_package_id=world["package"].pk,
        spec=automatic_spec("Everyone in Sales", SALES_RULE)))
    evaluation = RuleEvaluation.objects.get(policy=policy)
    run_s, run_q, evaluation = timed(lambda: rule_evaluation_run(evaluation_id=evaluation.pk))
    return {"policy": policy, "evaluation": evaluation, "save_s": save_s, "save_q": save_q,
            "run_s": run_s, "run_q": run_q, "rss_before_mb": rss_before,
            "rss_after_mb": maxrss_mb()}


def counts(package_id: int) -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        # Statistics first: the tables were analyzed empty, and a plan on those would
        # compare every delivery with every assignment.
        cur.execute("ANALYZE governance_assignment, governance_assignmentrequest, "
                    "governance_roledelivery")
        cur.execute("""
            SELECT
              (SELECT count(*) FROM governance_assignment a JOIN governance_user u
                 ON u.id = a.target_id
                 WHERE a.access_package_id = %(p)s AND a.state = ANY(%(active)s)),
              (SELECT count(*) FROM governance_assignment a JOIN governance_user u
                 ON u.id = a.target_id
                 WHERE a.access_package_id = %(p)s AND u.department <> 'Sales'),
              (SELECT count(*) FROM governance_assignmentrequest
                 WHERE access_package_id = %(p)s AND request_type = 'systemAdd'
                   AND state = 'delivered'),
              (SELECT count(*) FROM governance_roledelivery d JOIN governance_assignment a
                 ON a.id = d.assignment_id
                 WHERE a.access_package_id = %(p)s AND d.action = 'grant'
                   AND d.state = 'pending'),
              (SELECT count(*) FROM governance_auditevent
                 WHERE action = 'assignment.created')""",
                    {"p": package_id, "active": ACTIVE})
        return dict(zip(("assignments", "outside_rule", "requests", "deliveries", "audit"),
                        cur.fetchone(), strict=True))


# ------------------------------------------------------------------------------- the floor

# The same people (the rule's condition as the ORM compiles it, and the eligibility), the
# same columns, into the same table under a second package: its indexes, constraints and
# foreign keys are the service's.
FLOOR = """
INSERT INTO governance_assignment (access_package_id, policy_id, target_id, state, status,
    start_at, expires_at, created_at, end_reason)
SELECT %(package)s, %(policy)s, u.id, 'delivering', 'Delivering', now(), NULL, now(), ''
FROM governance_user u
WHERE UPPER(u.department::text) = UPPER('Sales') AND u.is_active
  AND u.account_state = 'active' AND u.user_type <> 'service'
"""

# For context only: the floor plus the rest of what the run writes, in plain SQL.
BOOKKEEPING = [
    """INSERT INTO governance_assignmentrequest (request_type, state, status,
           access_package_id, policy_id, requestor_id, target_id, assignment_id,
           justification, created_at, completed_at)
       SELECT 'systemAdd', 'delivered', 'Assigned', a.access_package_id, a.policy_id,
           a.target_id, a.target_id, a.id, '', now(), now()
       FROM governance_assignment a WHERE a.access_package_id = %(package)s""",
    """INSERT INTO governance_roledelivery (assignment_id, role_id, action, state, attempts,
           last_error, note, next_attempt_at)
       SELECT a.id, s.role_id, 'grant', 'pending', 0, '', '', now()
       FROM governance_assignment a
       JOIN governance_resourcerolescope s ON s.access_package_id = a.access_package_id
       WHERE a.access_package_id = %(package)s""",
    """INSERT INTO governance_auditevent (at, actor_id, actor_label, action, object_type,
           object_id, before, after, details)
       SELECT now(), NULL, 'floor', 'assignment.floor', 'assignment', a.id::text, NULL,
           jsonb_build_object('accessPackage', a.access_package_id, 'target', a.target_id),
           '{}'::jsonb
       FROM governance_assignment a WHERE a.access_package_id = %(package)s""",
]


def floor(world: dict, *, bookkeeping: bool = False) -> tuple[float, int]:
    """(seconds, rows) of the floor in one transaction, commit included."""
    from django.db import connection, transaction

    params = {"package": world["floor_package"].pk, "policy": world["floor_policy"].pk}
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(FLOOR, params)
        inserted = cur.rowcount
        for statement in BOOKKEEPING if bookkeeping else ():
            cur.execute(statement, params)
    return time.perf_counter() - t0, inserted


def floor_remove(world: dict) -> None:
    """Remove the floor's rows (the audit log keeps its own: they say 'assignment.floor')."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        for table in ("governance_roledelivery", "governance_assignmentrequest"):
            cur.execute(f"""DELETE FROM {table} WHERE assignment_id IN (
                                SELECT id FROM governance_assignment
                                WHERE access_package_id = %s)""",  # nosec B608 - fixed names
                        [world["floor_package"].pk])
        cur.execute("DELETE FROM governance_assignment WHERE access_package_id = %s",
                    [world["floor_package"].pk])


# ------------------------------------------------------------------------------ the mover

def mover_world(world: dict, policies: int):
    """`policies` automatic policies in all, each on its own package with the same two
    roles, saved through policy_save: the Sales workspace's, one the mover holds
    (Engineering, their job title), one they will match (Sales or Marketing, their job
    title), and the rest rules that match nobody, with every operator. The mover's held
    assignment comes from running its policy's evaluation."""
    from governance.models import RuleEvaluation, User
    from governance.services.automatic import rule_evaluation_run
    from governance.services.policies import policy_save

    mover = User.objects.filter(email__endswith=f"@{DOMAIN}", department="Engineering") \
        .order_by("pk").first()
    mover.job_title = "Mover"
    mover.save(update_fields=["job_title"])
    rules = ['user.department -eq "Engineering" -and user.jobTitle -eq "Mover"',
             'user.department -in ["Sales", "Marketing"] -and user.jobTitle -eq "Mover"']
    shapes = ['user.department -eq "Team {k}"',
              'user.jobTitle -startsWith "Role {k} "',
              'user.department -eq "Sales" -and user.employeeId -eq "X{k}"',
              '(user.companyName -contains "Org {k}") -or (user.officeLocation -eq "Site {k}")',
              'user.employeeType -in ["Kind {k}", "Other {k}"]',
              'user.department -match "^Unit{k}$"',
              'user.department -eq "Sales" -and -not (user.employeeId -notStartsWith "Y{k}")']
    rules += [shapes[k % len(shapes)].format(k=k) for k in range(policies - 3)]
    held = None
    for number, rule in enumerate(rules):
        package = package_with_roles(world["catalog"], f"Package {number}", world["roles"])
        policy = policy_save(actor=world["admin"], access_package_id=package.pk,
                             spec=automatic_spec(f"Automatic {number}", rule))
        if number == 0:
            held = RuleEvaluation.objects.get(policy=policy)
    rule_evaluation_run(evaluation_id=held.pk)
    return mover


def move(world: dict, mover) -> dict:
    """The mover's department changes through person_update (its commit queues the
    evaluation), then person_rules_evaluate, as the worker runs it; each timed."""
    from governance.services.automatic import person_rules_evaluate
    from governance.services.people import person_update

    update_s, update_q, _ = timed(lambda: person_update(
        actor=world["admin"], user_id=mover.pk, changes={"department": "Sales"}))
    evaluate_s, evaluate_q, outcome = timed(lambda: person_rules_evaluate(user_id=mover.pk))
    # The same again: nothing left to change, so what it costs to find that out.
    again_s, again_q, again = timed(lambda: person_rules_evaluate(user_id=mover.pk))
    return {"update_s": update_s, "update_q": update_q, "evaluate_s": evaluate_s,
            "evaluate_q": evaluate_q, "outcome": outcome, "again_s": again_s,
            "again_q": again_q, "again": again}


def mover_counts(mover) -> dict:
    from governance.choices import ASSIGNMENT_ACTIVE
    from governance.models import Assignment

    mine = Assignment.objects.filter(target=mover, state__in=ASSIGNMENT_ACTIVE,
                                     policy__is_automatic=True)
    return {"holds": mine.count(),
            "pending_removal": mine.filter(rule_removal_at__isnull=False).count()}


def main() -> int:
    args = parse_args()
    opened = open_bench_database("auto_assign", DEFAULT_URL, force=args.force)
    if opened is None:
        return 2
    name, version = opened
    import governance.tasks  # noqa: F401 - the after-commit publishes find their tasks
    from governance.services.automatic import automatic_policies_reconcile

    n, sales = args.people, args.people // 2
    print(f"automatic assignment benchmark: {n:,} people, a rule matching {sales:,} "
          f"({SALES_RULE}), a package of 2 local-group roles; then one mover against "
          f"{args.policies} automatic policies; "
          f"{'an empty assignment table' if args.empty else 'everyone holding one other package'}"
          f"; PostgreSQL {version} ({name}), broker memory://")
    t = time.perf_counter()
    world = build(n, empty=args.empty)
    print(f"  data set built in {time.perf_counter() - t:.1f} s")

    measured = apply_on_save(world)
    evaluation = measured["evaluation"]
    problems = check("rule evaluation", {
        "state": evaluation.state, "matched": evaluation.matched, "added": evaluation.added,
        **counts(world["package"].pk)}, {
        "state": "done", "matched": sales, "added": sales, "assignments": sales,
        "outside_rule": 0, "requests": sales, "deliveries": 2 * sales, "audit": sales})

    # The minute sweep right after (statistics fresh, from the check's ANALYZE): everyone
    # the rule matches holds the package, so it finds nothing to do.
    sweep_s, sweep_q, swept = timed(automatic_policies_reconcile)
    problems += check("sweep after the run", {"added": swept.added, "matched": swept.matched},
                      {"added": 0, "matched": sales})

    floor_s, floor_rows = floor(world)
    problems += check("floor", {"assignments": floor_rows}, {"assignments": sales})
    floor_remove(world)
    floor_plus_s, _ = floor(world, bookkeeping=True)
    problems += check("floor + bookkeeping", counts(world["floor_package"].pk), {
        "assignments": sales, "outside_rule": 0, "requests": sales, "deliveries": 2 * sales,
        "audit": sales})
    floor_remove(world)

    t = time.perf_counter()
    mover = mover_world(world, args.policies)
    print(f"  {args.policies} automatic policies saved in {time.perf_counter() - t:.1f} s")
    problems += check("mover before", mover_counts(mover),
                      {"holds": 1, "pending_removal": 0})
    moved = move(world, mover)
    outcome = moved["outcome"]
    problems += check("mover", {"added": outcome.added,
                                "removal_scheduled": outcome.removal_scheduled,
                                "again_added": moved["again"].added,
                                **mover_counts(mover)},
                      {"added": 2, "removal_scheduled": 1, "again_added": 0, "holds": 3,
                       "pending_removal": 1})

    run_s = measured["run_s"]
    ratio = run_s / floor_s if floor_s else None
    print()
    print(f"  {'':<44}{'measured':>10} {'':<3} {'aim':<8}")
    row("policy_save (queues the evaluation)", measured["save_s"], "s")
    row("rule_evaluation_run", run_s, "s")
    row("floor: one INSERT … SELECT, commit", floor_s, "s")
    row("ratio run / floor", ratio, "x", f"<= {AIM_RATIO:g}",
        above=ratio is not None and ratio > AIM_RATIO)
    row("(floor + requests, deliveries, audit)", floor_plus_s, "s")
    row("(ratio run / that)", run_s / floor_plus_s if floor_plus_s else None, "x")
    row("the minute sweep after it (nothing to do)", sweep_s, "s")
    row("(its SQL statements)", sweep_q, "")
    row("SQL statements: policy_save", measured["save_q"], "")
    row("SQL statements: rule_evaluation_run", measured["run_q"], "")
    row("peak RSS before the save (ru_maxrss)", measured["rss_before_mb"], "MB")
    row("peak RSS after the run", measured["rss_after_mb"], "MB")
    row("(growth)", measured["rss_after_mb"] - measured["rss_before_mb"], "MB")
    row("mover: person_update", moved["update_s"] * 1000, "ms")
    row(f"mover: person_rules_evaluate, {args.policies} policies", moved["evaluate_s"] * 1000,
        "ms")
    row("mover: its SQL statements", moved["evaluate_q"], "")
    row("mover: person_update's SQL statements", moved["update_q"], "")
    row("mover again (nothing to do)", moved["again_s"] * 1000, "ms")
    row("mover again: SQL statements", moved["again_q"], "")
    return finish(problems, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
