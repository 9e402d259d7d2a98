"""Automatic policies (governance.services.automatic): saving one checks its rule and queues a
run; a run assigns everyone the rule matches, schedules the removal of those who left it at
the end of the grace period, cancels it when they match again, and ends it when it comes; a
person's change is evaluated for that person; the sweep does each piece of work once."""

from datetime import timedelta

import pytest
import time_machine

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AssignmentState,
    BulkJobState,
    EndReason,
    ExpirationType,
    GroupMembershipRole,
    RequestState,
    RequestType,
)
from governance.models import (
    Assignment,
    AssignmentPolicy,
    AuditEvent,
    GroupMembership,
    RuleEvaluation,
)
from governance.services.automatic import (
    automatic_policies_reconcile,
    person_rules_evaluate,
    rule_evaluation_run,
)
from governance.services.delivery import deliveries_process
from governance.services.errors import InvalidInput
from governance.services.people import person_update
from governance.services.policies import policy_save, policy_update
from governance.services.policy_spec import PolicySpec, StageSpec
from tests.factories import GroupFactory, PackageFactory, UserFactory, group_role

SALES_RULE = 'user.department -eq "Sales"'


@pytest.fixture
def sales(world):
    """A Sales workspace package (one local group), three people of Sales, one of Finance."""
    package = PackageFactory(catalog=world.catalog, display_name="Sales workspace")
    group = GroupFactory(display_name="Sales team")
    group_role(package, group)
    people = {name: UserFactory(email=f"{name}@access.example", department=department)
              for name, department in (("ann", "Sales"), ("bob", "sales"), ("cy", "Sales"),
                                       ("dee", "Finance"))}
    return package, group, people


@pytest.fixture
def admin(db):
    return UserFactory(email="global.admin@access.example", is_superuser=True)


def _save(world, package, rule=SALES_RULE, **fields) -> AssignmentPolicy:
    spec = PolicySpec(display_name="Everyone in Sales", is_automatic=True,
                      membership_rule=rule, expiration_type=ExpirationType.NO_EXPIRATION,
                      expiration_duration=None, **fields)
    return policy_save(actor=world.owner, access_package_id=package.pk, spec=spec)


def _run_latest(policy) -> RuleEvaluation:
    evaluation = policy.rule_evaluations.order_by("-pk").first()
    return rule_evaluation_run(evaluation_id=evaluation.pk)


def _holders(package) -> set[str]:
    return set(Assignment.objects.filter(access_package=package, state__in=ASSIGNMENT_ACTIVE)
               .values_list("target__email", flat=True))


def test_saving_an_automatic_policy_queues_a_run_that_assigns_everyone_the_rule_matches(
        world, sales):
    package, group, people = sales
    policy = _save(world, package)
    assert policy.is_automatic and not policy.enable_self_add
    assert not policy.is_approval_required_for_add and policy.stages.count() == 0
    evaluation = policy.rule_evaluations.get()
    assert evaluation.state == BulkJobState.QUEUED

    done = _run_latest(policy)
    assert (done.state, done.matched, done.added) == (BulkJobState.DONE, 3, 3)
    assert _holders(package) == {"ann@access.example", "bob@access.example",
                                 "cy@access.example"}
    assignment = Assignment.objects.get(target=people["ann"])
    assert assignment.policy == policy and assignment.expires_at is None
    request = assignment.requests.get()
    assert (request.request_type, request.state) == (RequestType.SYSTEM_ADD,
                                                     RequestState.DELIVERED)
    created = AuditEvent.objects.get(action="assignment.created", object_id=str(assignment.pk))
    assert created.details == {"reason": "automaticPolicy", "policy": policy.pk}

    deliveries_process(assignment_ids=[assignment.pk])
    assert GroupMembership.objects.filter(group=group, user=people["ann"],
                                          role=GroupMembershipRole.MEMBER).exists()
    assert Assignment.objects.get(pk=assignment.pk).state == AssignmentState.DELIVERED

    # Run again: nothing more to do.
    policy_update(actor=world.owner, policy_id=policy.pk,
                  change=lambda spec: PolicySpec(**{**spec.__dict__, "membership_rule":
                                                    SALES_RULE + " -or user.department -eq \"x\""}))
    again = _run_latest(policy)
    assert (again.matched, again.added, again.removal_scheduled) == (3, 0, 0)


def test_leaving_the_rule_starts_the_grace_period_and_matching_again_cancels_it(world, sales,
                                                                              admin):
    package, group, people = sales
    policy = _save(world, package, grace_period_before_access_removal=timedelta(days=3))
    _run_latest(policy)
    person_update(actor=admin, user_id=people["ann"].pk, changes={"department": "Finance"})
    outcome = person_rules_evaluate(user_id=people["ann"].pk)
    assert outcome.removal_scheduled == 1
    assignment = Assignment.objects.get(target=people["ann"], access_package=package)
    assert assignment.is_active
    assert assignment.rule_removal_at == pytest.approx(clock.now() + timedelta(days=3),
                                                       abs=timedelta(minutes=1))

    person_update(actor=admin, user_id=people["ann"].pk, changes={"department": "Sales"})
    assert person_rules_evaluate(user_id=people["ann"].pk).removal_canceled == 1
    assignment.refresh_from_db()
    assert assignment.rule_removal_at is None and assignment.is_active


def test_the_removal_ends_the_access_when_the_grace_period_is_over(world, sales, admin):
    package, group, people = sales
    policy = _save(world, package, grace_period_before_access_removal=timedelta(days=2))
    _run_latest(policy)
    person_update(actor=admin, user_id=people["bob"].pk, changes={"department": "Legal"})
    person_rules_evaluate(user_id=people["bob"].pk)
    assert automatic_policies_reconcile().removed == 0
    with time_machine.travel(clock.now() + timedelta(days=2, minutes=1)):
        outcome = automatic_policies_reconcile()
        assert outcome.removed == 1
    ended = Assignment.objects.get(target=people["bob"], access_package=package)
    assert (ended.state, ended.end_reason) == (AssignmentState.EXPIRED,
                                               EndReason.RULE_NOT_MATCHED)
    assert automatic_policies_reconcile().removed == 0


def test_a_joiner_who_matches_is_assigned_and_an_unchanged_sweep_does_nothing(world, sales):
    package, group, people = sales
    policy = _save(world, package)
    _run_latest(policy)
    newcomer = UserFactory(email="eve@access.example", department="Sales")
    assert person_rules_evaluate(user_id=newcomer.pk).added == 1
    assert automatic_policies_reconcile().__dict__ == {
        "matched": 4, "added": 0, "removal_scheduled": 0, "removal_canceled": 0, "removed": 0}


def test_a_deactivated_person_is_not_assigned(world, sales):
    package, group, people = sales
    people["cy"].is_active = False
    people["cy"].save()
    _run_latest(_save(world, package))
    assert "cy@access.example" not in _holders(package)


def test_refusals_name_the_field_and_write_nothing(world, sales, assert_refused):
    package, group, people = sales
    error = assert_refused(lambda: _save(world, package, rule='user.department -eq Sales'),
                           InvalidInput, "invalidRule", "Column 21", "double quotes")
    assert error.field == "membership_rule"
    assert_refused(lambda: _save(world, package, stages=[StageSpec(approvers=[world.approver])]),
                   InvalidInput, "automaticPolicyStages", "approval")
    assert_refused(lambda: _save(world, package,
                                 grace_period_before_access_removal=timedelta(days=-1)),
                   InvalidInput, "invalidGracePeriod", "grace period")
    _save(world, package)
    assert_refused(lambda: policy_save(actor=world.owner, access_package_id=package.pk,
                                       spec=PolicySpec(display_name="Second", is_automatic=True,
                                                       membership_rule=SALES_RULE)),
                   InvalidInput, "automaticPolicyExists", "at most one")
    assert_refused(lambda: policy_update(
        actor=world.owner, policy_id=world.policy.pk,
        change=lambda spec: PolicySpec(**{**spec.__dict__, "is_automatic": True,
                                          "membership_rule": SALES_RULE})),
        InvalidInput, "policyKindFixed", "new policy")


def test_a_bounded_match_pattern_is_required(world, sales, assert_refused):
    package, group, people = sales
    assert_refused(lambda: _save(world, package, rule='user.jobTitle -match "(a+)+$"'),
                   InvalidInput, "patternTooSlow", "Column 1")


def test_two_sweeps_at_once_do_the_work_once(world, sales):
    package, group, people = sales
    policy = _save(world, package)
    RuleEvaluation.objects.all().delete()
    first = automatic_policies_reconcile()
    second = automatic_policies_reconcile()
    assert (first.added, second.added) == (3, 0)
    assert Assignment.objects.filter(policy=policy).count() == 3
