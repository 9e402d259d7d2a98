"""Automatic policies under concurrency (issue 17): two reconciliation sweeps at once (two
workers, or beat firing while the last run still goes), and a sweep racing the run a rule
change queued or a person's own evaluation, do each piece of work once: one assignment per
person and package, one request and one delivery per role, one audit event per change, no
error, and the outcomes' counts add up to the work there was.

The scene's rules overlap (the Sales people are in three policies, the guests in three), so
that the runs contend for the same people, not only for the same policies.
"""

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AssignmentState,
    BulkJobState,
    DeliveryAction,
    EndReason,
    ExpirationType,
    RequestType,
)
from governance.models import (
    Assignment,
    AssignmentPolicy,
    AssignmentRequest,
    AuditEvent,
    RoleDelivery,
    RuleEvaluation,
    User,
)
from governance.services import automatic
from governance.services.automatic import (
    Outcome,
    automatic_policies_reconcile,
    person_rules_evaluate,
    rule_evaluation_run,
)
from governance.services.people import person_update
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec
from tests.concurrency.race import raise_unexpected, run_together
from tests.factories import GroupFactory, GuestFactory, PackageFactory, UserFactory, group_role

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

PER_DEPARTMENT = 30
GRACE = timedelta(days=1)
# The rule of each package, and how many of the scene's people it matches.
RULES = {
    "Sales workspace": ('user.department -eq "Sales"', 2 * PER_DEPARTMENT),
    "Sales and Support": ('user.department -startsWith "S"', 3 * PER_DEPARTMENT),
    "Back office": ('user.department -in ["Finance", "Legal"]', 2 * PER_DEPARTMENT),
    "Sales guests": ('user.department -eq "Sales" -and user.userType -eq "Guest"',
                     PER_DEPARTMENT),
}
EVERYONE = sum(count for _rule, count in RULES.values())


@pytest.fixture
def scene(world):
    """Thirty members in each of Sales, Support, Finance and Legal, thirty guests in Sales,
    and four packages (a local group each) under an automatic policy with the RULES."""
    for department in ("Sales", "Support", "Finance", "Legal"):
        for n in range(PER_DEPARTMENT):
            UserFactory(email=f"{department.lower()}{n}@access.example", department=department)
    for n in range(PER_DEPARTMENT):
        GuestFactory(email=f"seller{n}@contoso.example", department="Sales",
                     connected_organization=world.organization)
    policies = {}
    for name, (rule, _count) in RULES.items():
        package = PackageFactory(catalog=world.catalog, display_name=name)
        group_role(package, GroupFactory(display_name=f"{name} group"))
        policies[name] = policy_save(actor=world.owner, access_package_id=package.pk,
                                     spec=PolicySpec(
                                         display_name=f"Everyone: {name}", is_automatic=True,
                                         membership_rule=rule,
                                         expiration_type=ExpirationType.NO_EXPIRATION,
                                         expiration_duration=None,
                                         grace_period_before_access_removal=GRACE))
    return policies


def _automatic():
    return Assignment.objects.filter(policy__is_automatic=True)


def _per_object(action: str) -> Counter:
    return Counter(AuditEvent.objects.filter(action=action).values_list("object_id", flat=True))


def _once_each(ids) -> Counter:
    return Counter({str(pk): 1 for pk in ids})


def _total(outcomes) -> Outcome:
    total = Outcome()
    for outcome in outcomes:
        total.add(outcome.value if isinstance(outcome.value, Outcome) else Outcome())
    return total


def _two_sweeps() -> Outcome:
    outcomes = run_together(automatic_policies_reconcile, automatic_policies_reconcile)
    raise_unexpected(outcomes)
    return _total(outcomes)


def _move(emails, department: str) -> None:
    """Drift: the people's department changed and no evaluation ran (its message was lost)."""
    assert User.objects.filter(email__in=emails).update(department=department) == len(emails)


def _assert_one_assignment_each():
    active = _automatic().filter(state__in=ASSIGNMENT_ACTIVE)
    pairs = Counter(active.values_list("target_id", "access_package_id"))
    assert set(pairs.values()) <= {1}


def test_two_sweeps_at_once_assign_each_person_once(scene):
    total = _two_sweeps()

    assert total.added == EVERYONE, total
    assignments = _automatic()
    assert assignments.count() == EVERYONE
    _assert_one_assignment_each()
    for name, policy in scene.items():
        assert assignments.filter(policy=policy).count() == RULES[name][1], name
    ids = list(assignments.values_list("pk", flat=True))
    assert _per_object("assignment.created") == _once_each(ids)
    requests = AssignmentRequest.objects.filter(assignment__in=ids)
    assert Counter(requests.values_list("assignment_id", "request_type")) == Counter(
        {(pk, RequestType.SYSTEM_ADD): 1 for pk in ids})
    assert Counter(RoleDelivery.objects.filter(assignment__in=ids)
                   .values_list("assignment_id", "action")) == Counter(
        {(pk, DeliveryAction.GRANT): 1 for pk in ids})  # one local group per package
    assert automatic_policies_reconcile().added == 0


def test_two_sweeps_at_once_schedule_and_cancel_each_removal_once(scene):
    automatic_policies_reconcile()
    # Ten of the Sales members moved to Finance and five of those came back before the sweep
    # ran the first time; ten Support members moved to Legal.
    sales = [f"sales{n}@access.example" for n in range(10)]
    support = [f"support{n}@access.example" for n in range(10)]
    _move(sales, "Finance")
    _move(support, "Legal")
    automatic_policies_reconcile()  # scheduled: 10 x 2 (Sales, Sales and Support) + 10
    scheduled_first = set(_automatic().filter(rule_removal_at__isnull=False)
                          .values_list("pk", flat=True))
    assert len(scheduled_first) == 30
    _move(sales[:5], "Sales")
    _move([f"finance{n}@access.example" for n in range(7)], "Marketing")

    total = _two_sweeps()

    # Back in Sales: both removals canceled, and Back office's new assignment scheduled for
    # removal; out of Finance: Back office's removal scheduled.
    assert (total.added, total.removal_canceled, total.removal_scheduled, total.removed) == (
        0, 10, 5 + 7, 0), total
    _assert_one_assignment_each()
    scheduled = _automatic().filter(rule_removal_at__isnull=False)
    assert scheduled.count() == 30 - 10 + 12
    assert set(_automatic().values_list("state", flat=True)) <= set(ASSIGNMENT_ACTIVE)
    canceled = _per_object("assignment.removalCanceled")
    assert sum(canceled.values()) == 10 and set(canceled.values()) == {1}
    assert _per_object("assignment.removalScheduled") == _once_each(
        scheduled_first | set(scheduled.values_list("pk", flat=True)))


def test_two_sweeps_at_once_end_each_due_removal_once(scene):
    automatic_policies_reconcile()
    _move([f"sales{n}@access.example" for n in range(10)], "Legal")
    _move([f"seller{n}@contoso.example" for n in range(5)], "Legal")
    automatic_policies_reconcile()
    due = set(_automatic().filter(rule_removal_at__isnull=False).values_list("pk", flat=True))
    assert len(due) == 10 * 2 + 5 * 3

    with time_machine.travel(clock.now() + GRACE + timedelta(minutes=1), tick=False):
        total = _two_sweeps()

    assert (total.added, total.removed) == (0, len(due)), total
    ended = Assignment.objects.filter(pk__in=due)
    assert set(ended.values_list("state", "end_reason")) == {
        (AssignmentState.EXPIRED, EndReason.RULE_NOT_MATCHED)}
    assert _per_object("assignment.removed") == _once_each(due)
    assert Counter(RoleDelivery.objects.filter(assignment__in=due)
                   .values_list("assignment_id", "action")) == Counter(
        {(pk, DeliveryAction.REVOKE): 1 for pk in due})
    # The fifteen in Legal now hold Back office.
    assert _automatic().filter(state__in=ASSIGNMENT_ACTIVE).count() == EVERYONE + 15 - len(due)


def test_a_sweep_and_the_runs_a_rule_change_queued_assign_each_person_once(scene):
    evaluations = list(RuleEvaluation.objects.filter(state=BulkJobState.QUEUED)
                       .order_by("pk").values_list("pk", flat=True))
    assert len(evaluations) == len(RULES)

    def run(evaluation_id):
        return lambda: rule_evaluation_run(evaluation_id=evaluation_id)

    # Each run twice (its message delivered twice): the second is not claimed.
    calls = [automatic_policies_reconcile, automatic_policies_reconcile]
    calls += [run(pk) for pk in evaluations for _ in range(2)]
    outcomes = run_together(*calls)
    raise_unexpected(outcomes)

    runs = RuleEvaluation.objects.filter(pk__in=evaluations)
    assert set(runs.values_list("state", flat=True)) == {BulkJobState.DONE}
    assert sum(outcome.value is None for outcome in outcomes[2:]) == len(evaluations)
    by_runs = sum(runs.values_list("added", flat=True))
    assert _total(outcomes[:2]).added + by_runs == EVERYONE
    assert _automatic().count() == EVERYONE
    _assert_one_assignment_each()
    assert _per_object("assignment.created") == _once_each(
        _automatic().values_list("pk", flat=True))
    assert _per_object("policy.ruleApplied") == _once_each(
        str(policy.pk) for policy in scene.values())


def test_a_sweep_and_the_movers_own_evaluations_do_each_change_once(scene):
    automatic_policies_reconcile()
    admin = UserFactory(email="global.admin@access.example", is_superuser=True)
    movers = [User.objects.get(email=f"finance{n}@access.example") for n in range(10)]
    for mover in movers:
        # As an administrator's edit or a SCIM push would; its queued evaluation is lost.
        person_update(actor=admin, user_id=mover.pk, changes={"department": "Sales"})

    evaluations = [lambda user_id=mover.pk: person_rules_evaluate(user_id=user_id)
                   for mover in movers]
    outcomes = run_together(automatic_policies_reconcile, *evaluations, *evaluations)
    raise_unexpected(outcomes)

    total = _total(outcomes)
    # Each mover: Sales workspace and Sales and Support added, Back office's removal.
    assert (total.added, total.removal_scheduled) == (20, 10), total
    _assert_one_assignment_each()
    theirs = _automatic().filter(target__in=movers)
    assert theirs.count() == 30
    assert _per_object("assignment.created") == _once_each(
        _automatic().values_list("pk", flat=True))
    assert _per_object("assignment.removalScheduled") == _once_each(
        theirs.filter(rule_removal_at__isnull=False).values_list("pk", flat=True))

    # Their Back office removals come due: the sweep and their evaluations end each once.
    with time_machine.travel(clock.now() + GRACE + timedelta(minutes=1), tick=False):
        outcomes = run_together(automatic_policies_reconcile, *evaluations)
    raise_unexpected(outcomes)
    assert _total(outcomes).removed == 10
    ended = theirs.filter(state=AssignmentState.EXPIRED)
    assert _per_object("assignment.removed") == _once_each(ended.values_list("pk", flat=True))
    assert set(ended.values_list("policy", flat=True)) == {scene["Back office"].pk}


class TestThePolicyLock:
    """Why every run locks the policy it reconciles: a second run that reads the policy's
    assignments while the first has changed them but not committed acts on what it read.

    The first run reconciles and holds its transaction open until the second is waiting on
    a lock (or is done); the second starts after the first has done its work.
    """

    @pytest.fixture
    def leavers(self, scene):
        automatic_policies_reconcile()
        _move([f"legal{n}@access.example" for n in range(8)], "Marketing")
        return scene["Back office"]

    @staticmethod
    def _waiting_on_a_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                           "'Lock' AND datname = current_database()")
            return cursor.fetchone()[0] > 0

    def _race(self, policy, second) -> tuple[Outcome, Outcome, bool]:
        """The first run's outcome, the second's, and whether the second waited on a lock
        (rather than ending while the first still held the policy)."""
        first_done, second_done = threading.Event(), threading.Event()
        waited = []

        def first():
            with transaction.atomic():
                outcome = automatic._reconcile(automatic._locked(policy.pk))
                first_done.set()
                deadline = time.monotonic() + 20
                while not second_done.is_set():
                    if self._waiting_on_a_lock():
                        waited.append(True)
                        break
                    assert time.monotonic() < deadline, "the second run neither waited nor ended"
                    time.sleep(0.05)
            return outcome

        def then_second():
            assert first_done.wait(20)
            try:
                return second()
            finally:
                second_done.set()

        outcomes = run_together(first, then_second)
        raise_unexpected(outcomes)
        return outcomes[0].value, outcomes[1].value, bool(waited)

    def test_unlocked_the_second_run_schedules_the_same_removals_again(self, leavers):
        def unlocked():
            with transaction.atomic():
                return automatic._reconcile(AssignmentPolicy.objects.get(pk=leavers.pk))

        first, second, waited = self._race(leavers, unlocked)
        assert waited  # on the rows the first changed, but it had read them already
        assert (first.removal_scheduled, second.removal_scheduled) == (8, 8)
        assert set(_per_object("assignment.removalScheduled").values()) == {2}

    def test_the_sweep_skips_the_policy_another_run_holds(self, leavers):
        first, second, waited = self._race(leavers, automatic_policies_reconcile)
        assert not waited
        assert (first.removal_scheduled, second.removal_scheduled) == (8, 0)
        assert set(_per_object("assignment.removalScheduled").values()) == {1}

    def test_a_persons_evaluation_waits_for_the_run_that_holds_the_policy(self, leavers):
        leaver = User.objects.get(email="legal0@access.example")
        first, second, waited = self._race(leavers,
                                           lambda: person_rules_evaluate(user_id=leaver.pk))
        assert waited  # on the policy, before reading its assignments
        assert (first.removal_scheduled, second.removal_scheduled) == (8, 0)
        assert set(_per_object("assignment.removalScheduled").values()) == {1}
