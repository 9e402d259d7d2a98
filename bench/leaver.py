#!/usr/bin/env python
"""Benchmark: the leaver of a person holding N assignments in three target systems (the
portal's own groups, a SCIM application, Microsoft Entra), in one transaction with every
revocation queued, beside the same with one assignment. See bench/README.md.

    python bench/leaver.py [--n 50]

Exits 1 when a check fails (CHECK FAILED is printed), 2 when it cannot run, 0 otherwise.
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from expiry_dataset import truncate  # noqa: E402 - beside this script
from expiry_sweep import check, finish, open_bench_database, row  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_leaver"
KINDS = ("local", "scim", "entra")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="assignments (default 50)")
    parser.add_argument("--rounds", type=int, default=5, help="leavers timed (default 5)")
    parser.add_argument("--keep", action="store_true", help="leave the data set in place")
    parser.add_argument("--force", action="store_true",
                        help="run on a database whose name does not contain 'bench' (its "
                             "governance tables are TRUNCATED)")
    return parser.parse_args()


def build_world():
    """One catalog, three systems with one group each, `packages` made on demand."""
    from governance.choices import OriginSystem
    from governance.models import Catalog, Group, Resource, ResourceRole, TargetSystem, User

    catalog = Catalog.objects.create(display_name="Leaver bench")
    group = Group.objects.create(display_name="Local bench group")
    roles = [ResourceRole.objects.create(
        resource=Resource.objects.create(catalog=catalog, display_name="Local group",
                                         origin_system=OriginSystem.GROUP,
                                         origin_id=str(group.pk), connector="local"),
        display_name="Member", origin_id=f"Member_{group.pk}")]
    for kind in ("scim", "entra"):
        system = TargetSystem.objects.create(display_name=f"Bench {kind}", kind=kind,
                                             base_url=f"https://{kind}.bench.example/")
        resource = Resource.objects.create(
            catalog=catalog, display_name=f"{kind} group",
            origin_system=OriginSystem.SCIM_GROUP if kind == "scim" else OriginSystem.GROUP,
            origin_id=f"{kind}-group-1", connector=kind, system=system)
        roles.append(ResourceRole.objects.create(resource=resource, display_name="Member",
                                                 origin_id="Member"))
    admin = User.objects.create_superuser(email="leaver.admin@bench.example")
    return catalog, group, roles, admin


def person_with_access(world, n: int, number: int):
    """A member holding n delivered assignments, each with a done grant in each system."""
    from governance import clock
    from governance.choices import AllowedTargetScope, AssignmentState, DeliveryState
    from governance.models import (
        AccessPackage,
        Assignment,
        AssignmentPolicy,
        GroupMembership,
        ResourceRoleScope,
        RoleDelivery,
        User,
    )

    catalog, group, roles, _admin = world
    person = User.objects.create_user(email=f"leaver{number}@bench.example")
    now = clock.now()
    for k in range(n):
        package = AccessPackage.objects.create(catalog=catalog,
                                               display_name=f"P{number}-{k}")
        for role in roles:
            ResourceRoleScope.objects.create(access_package=package, role=role)
        policy = AssignmentPolicy.objects.create(
            access_package=package, display_name="Bench",
            allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
            is_approval_required_for_add=False)
        assignment = Assignment.objects.create(
            access_package=package, policy=policy, target=person,
            state=AssignmentState.DELIVERED, start_at=now, created_at=now)
        RoleDelivery.objects.bulk_create(
            RoleDelivery(assignment=assignment, role=role, state=DeliveryState.DONE,
                         completed_at=now) for role in roles)
    GroupMembership.objects.get_or_create(group=group, user=person, role="Member")
    return person


def leave(person, admin) -> tuple[float, int]:
    """(seconds, SQL statements) of person_deactivate, commit included."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from governance.services.people import person_deactivate

    with CaptureQueriesContext(connection) as captured:
        t0 = time.perf_counter()
        person_deactivate(actor=admin, user_id=person.pk, reason="Left the company")
        seconds = time.perf_counter() - t0
    return seconds, len(captured)


def counts(person) -> dict:
    from governance.choices import DeliveryAction
    from governance.models import Assignment, GroupMembership, RoleDelivery

    revokes = RoleDelivery.objects.filter(assignment__target=person,
                                          action=DeliveryAction.REVOKE)
    return {
        "ended": Assignment.objects.filter(target=person, end_reason="userDeactivated").count(),
        "revokes_queued": revokes.exclude(role__resource__connector="local")
        .filter(state="pending").count(),
        "local_revoked": revokes.filter(role__resource__connector="local").count(),
        "local_memberships": GroupMembership.objects.filter(user=person).count(),
    }


def main() -> int:
    args = parse_args()
    opened = open_bench_database("leaver", DEFAULT_URL, force=args.force)
    if opened is None:
        return 2
    name, version = opened
    import governance.tasks  # noqa: F401 - the after-commit publishes find their tasks

    n = args.n
    print(f"leaver benchmark: a person holding {n} assignments in {len(KINDS)} target systems "
          f"({', '.join(KINDS)}), PostgreSQL {version} ({name}), broker memory://")
    truncate()
    world = build_world()
    problems, timed, one = [], [], []
    for number in range(args.rounds):
        big = person_with_access(world, n, number)
        small = person_with_access(world, 1, 1000 + number)
        timed.append(leave(big, world[3]))
        one.append(leave(small, world[3]))
        if number == 0:
            problems += check("leaver", counts(big),
                              {"ended": n, "revokes_queued": 2 * n, "local_revoked": n,
                               "local_memberships": 0})
    best = min(timed)
    best_one = min(one)
    print()
    row(f"leaver with {n} assignments: best of {args.rounds}", best[0] * 1000, "ms")
    row("leaver with 1 assignment: best", best_one[0] * 1000, "ms")
    row(f"SQL statements with {n} assignments", best[1], "")
    row("SQL statements with 1 assignment", best_one[1], "")
    print(f"  all rounds with {n}: " + ", ".join(f"{s * 1000:.0f} ms" for s, _ in timed))
    return finish(problems, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
