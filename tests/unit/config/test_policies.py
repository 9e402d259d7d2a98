"""Assignment policies with their approval stages: saving, refusals, who may change them. Each
allowed path, each refusal (with nothing written), and who may do what."""

from dataclasses import replace
from datetime import timedelta

import pytest

from governance import clock
from governance.choices import (
    AllowedTargetScope,
    ApproverKind,
    ConnectedOrganizationState,
    Decision,
    EndReason,
    ExpirationType,
    RequestState,
    SubjectSetType,
)
from governance.models import (
    ApprovalStageSetting,
    AssignmentPolicy,
)
from governance.services.approvals import stage_decide
from governance.services.errors import (
    InvalidInput,
    InvalidState,
    NotAllowed,
)
from governance.services.expiry import assignments_end
from governance.services.policies import policy_delete, policy_save
from governance.services.policy_spec import PolicySpec, StageSpec
from governance.services.questions import question_delete, question_save
from governance.services.requests import request_cancel, request_submit
from tests.config_helpers import events
from tests.factories import (
    OrganizationFactory,
    PackageFactory,
    UserFactory,
    approve_all,
    submit_request,
)


def two_stages(world, **first) -> list[StageSpec]:
    return [StageSpec(approvers=[world.approver], **first),
            StageSpec(approvers=[world.second_approver], deadline_days=7)]


def policy_arguments(world, **overrides) -> dict:
    """policy_save's arguments: the overrides name its own or the PolicySpec's fields."""
    given = {"actor": world.owner, "access_package_id": world.package.pk,
             "display_name": "Partners of Contoso",
             "allowed_target_scope": AllowedTargetScope.SPECIFIC_CONNECTED_ORG_USERS,
             "specific_connected_organizations": [world.organization],
             "is_requestor_justification_required": True,
             "expiration_type": ExpirationType.AFTER_DURATION,
             "expiration_duration": timedelta(days=90),
             "stages": two_stages(world)} | overrides
    own = {name: given.pop(name) for name in ("actor", "policy_id", "access_package_id")
           if name in given}
    return own | {"spec": PolicySpec(**given)}


def test_a_policy_is_saved_with_its_stages_and_is_requestable(world):
    world.policy.delete()
    policy = policy_save(**policy_arguments(world, stages=[
        StageSpec(approvers=[world.approver], escalation_approvers=[world.owner],
                  escalate_after_days=3, deadline_days=5, justification_required=True),
        StageSpec(dynamic_approver=SubjectSetType.INTERNAL_SPONSORS,
                  fallback_approvers=[world.second_approver]),
    ]))
    first, second = policy.stages.order_by("order")
    assert (first.duration_before_automatic_denial_days, first.is_escalation_enabled,
            first.duration_before_escalation_days, first.is_approver_justification_required) \
        == (5, True, 3, True)
    assert sorted(first.approver_sets.values_list("kind", "subject_type", "user__email")) == [
        (ApproverKind.ESCALATION, SubjectSetType.SINGLE_USER, world.owner.email),
        (ApproverKind.PRIMARY, SubjectSetType.SINGLE_USER, world.approver.email)]
    assert sorted(second.approver_sets.values_list("kind", "subject_type")) == [
        (ApproverKind.FALLBACK, SubjectSetType.SINGLE_USER),
        (ApproverKind.PRIMARY, SubjectSetType.INTERNAL_SPONSORS)]
    event = events("policy.created")[0]
    assert event.after["expirationDuration"] == "P90D"
    assert [stage["order"] for stage in event.after["stages"]] == [1, 2]
    request = request_submit(requestor=world.requester, access_package_id=world.package.pk,
                             justification="Joining")
    stage_decide(stage_id=request.stages.get(order=1).pk, approver=world.approver,
                 decision=Decision.APPROVE, justification="Known partner")
    # Contoso has no sponsors: the fallback approver decides stage 2.
    stage_decide(stage_id=request.stages.get(order=2).pk, approver=world.second_approver,
                 decision=Decision.APPROVE)
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERING


def test_a_specific_directory_users_policy_names_users_or_groups(world):
    world.policy.delete()
    policy = policy_save(**policy_arguments(
        world, allowed_target_scope=AllowedTargetScope.SPECIFIC_DIRECTORY_USERS,
        specific_connected_organizations=[], specific_users=[world.member],
        specific_groups=[world.other_group], is_approval_required_for_add=False, stages=[],
        expiration_type=ExpirationType.NO_EXPIRATION))
    assert list(policy.specific_users.all()) == [world.member]
    assert policy.expiration_duration is None and not policy.stages.exists()
    request = request_submit(requestor=world.member, access_package_id=world.package.pk,
                             justification="Falcon")
    assert request.state == RequestState.DELIVERING


def _refusal_cases():
    never = {"expiration_type": ExpirationType.NO_EXPIRATION}
    return [
        ("no name", {"display_name": " "}, "nameRequired", "display_name"),
        ("name taken", {"display_name": "contoso partners"}, "policyNameTaken",
         "display_name"),
        ("unknown scope", {"allowed_target_scope": "everyone"}, "invalidScope",
         "allowed_target_scope"),
        ("directory users and organisations", {
            "allowed_target_scope": AllowedTargetScope.SPECIFIC_DIRECTORY_USERS,
            "specific_users": ["member"]}, "mixedScope", "specific_connected_organizations"),
        ("organisations and users", {"specific_users": ["member"]}, "mixedScope",
         "specific_users"),
        ("organisations and groups", {"specific_groups": ["other_group"]}, "mixedScope",
         "specific_groups"),
        ("no specific users", {"allowed_target_scope":
                               AllowedTargetScope.SPECIFIC_DIRECTORY_USERS,
                               "specific_connected_organizations": []},
         "targetsRequired", "specific_users"),
        ("no organisation", {"specific_connected_organizations": []}, "targetsRequired",
         "specific_connected_organizations"),
        ("targets the scope ignores", {"allowed_target_scope":
                                       AllowedTargetScope.ALL_EXTERNAL_USERS},
         "targetsNotUsed", "specific_connected_organizations"),
        ("approval without stages", {"stages": []}, "stageRequired", "stages[0].approvers"),
        ("four stages", {"stages": "four"}, "tooManyStages", "stages[2].approvers"),
        ("stages without approval", {"is_approval_required_for_add": False},
         "stagesNotUsed", "is_approval_required_for_add"),
        ("deadline 0", {"stages": [StageSpec(approvers=["approver"], deadline_days=0)]},
         "deadlineOutOfRange", "stages[0].deadline_days"),
        ("deadline 15", {"stages": [StageSpec(approvers=["approver"], deadline_days=15)]},
         "deadlineOutOfRange", "stages[0].deadline_days"),
        ("stage without approver", {"stages": [StageSpec(approvers=["approver"]),
                                               StageSpec(deadline_days=3)]},
         "approverRequired", "stages[1].approvers"),
        ("manager without fallback", {"stages": [StageSpec(
            dynamic_approver=SubjectSetType.REQUESTOR_MANAGER)]},
         "fallbackRequired", "stages[0].fallback_approvers"),
        ("sponsors without fallback", {"stages": [StageSpec(
            dynamic_approver=SubjectSetType.EXTERNAL_SPONSORS)]},
         "fallbackRequired", "stages[0].fallback_approvers"),
        ("manager level 3", {"stages": [StageSpec(
            dynamic_approver=SubjectSetType.REQUESTOR_MANAGER, manager_level=3,
            fallback_approvers=["approver"])]}, "invalidManagerLevel",
         "stages[0].dynamic_approver"),
        ("escalation after 0 days", {"stages": [StageSpec(
            approvers=["approver"], escalation_approvers=["owner"], escalate_after_days=0)]},
         "escalationTooSoon", "stages[0].escalate_after_days"),
        ("escalation at the deadline", {"stages": [StageSpec(
            approvers=["approver"], escalation_approvers=["owner"], escalate_after_days=5,
            deadline_days=5)]}, "escalationAfterDeadline", "stages[0].escalate_after_days"),
        ("escalation without days", {"stages": [StageSpec(
            approvers=["approver"], escalation_approvers=["owner"])]},
         "escalationDaysRequired", "stages[0].escalate_after_days"),
        ("escalation without approvers", {"stages": [StageSpec(
            approvers=["approver"], escalate_after_days=2)]},
         "escalationApproversRequired", "stages[0].escalation_approvers"),
        ("disabled approver", {"stages": [StageSpec(approvers=["disabled"])]},
         "approverInactive", "stages[0].approvers"),
        ("no duration", {"expiration_duration": None}, "durationRequired",
         "expiration_duration"),
        ("zero duration", {"expiration_duration": timedelta(0)}, "durationRequired",
         "expiration_duration"),
        ("3661 days", {"expiration_duration": timedelta(days=3661)}, "durationTooLong",
         "expiration_duration"),
        ("no end date", {"expiration_type": ExpirationType.AFTER_DATETIME},
         "endDateRequired", "expiration_end_at"),
        ("past end date", {"expiration_type": ExpirationType.AFTER_DATETIME,
                           "expiration_end_at": "yesterday"}, "endDateInPast",
         "expiration_end_at"),
        ("unknown expiry", {"expiration_type": "someday"}, "invalidExpiration",
         "expiration_type"),
        ("review settings as text", {"review_settings": "monthly", **never},
         "invalidReviewSettings", "review_settings"),
    ]


def _resolve(world, value):
    """Names in the cases stand for the world's people and groups."""
    def named(name):
        if name == "disabled":
            return UserFactory(email="disabled@access.example", is_active=False)
        return {"member": world.member, "approver": world.approver, "owner": world.owner,
                "other_group": world.other_group}[name]

    if isinstance(value, list):
        return [named(item) if isinstance(item, str) else item for item in value]
    if isinstance(value, StageSpec):
        for name in ("approvers", "fallback_approvers", "escalation_approvers"):
            setattr(value, name, _resolve(world, getattr(value, name)))
        return value
    return value


@pytest.mark.parametrize("case", _refusal_cases(), ids=lambda case: case[0])
def test_policy_refusals_name_their_field_and_write_nothing(world, refused, case):
    _, overrides, code, field = case
    overrides = dict(overrides)
    if overrides.get("stages") == "four":
        overrides["stages"] = [StageSpec(approvers=[world.approver])] * 4
    elif "stages" in overrides:
        overrides["stages"] = [_resolve(world, spec) for spec in overrides["stages"]]
    for name in ("specific_users", "specific_groups"):
        if name in overrides:
            overrides[name] = _resolve(world, overrides[name])
    if overrides.get("expiration_end_at") == "yesterday":
        overrides["expiration_end_at"] = clock.now() - timedelta(days=1)
    arguments = policy_arguments(world, **({"display_name": "Second policy"} | overrides))
    refused(lambda: policy_save(**arguments), InvalidInput, code, field)


def test_a_policy_for_outsiders_needs_an_externally_visible_catalog(world, refused):
    world.catalog.is_externally_visible = False
    world.catalog.save()
    refused(lambda: policy_save(**policy_arguments(world, display_name="New")), InvalidInput,
            "catalogNotExternal", "allowed_target_scope", "not visible to external users")


def test_a_proposed_organisation_cannot_be_named(world, refused):
    proposed = OrganizationFactory(display_name="Tailspin",
                                   state=ConnectedOrganizationState.PROPOSED)
    refused(lambda: policy_save(**policy_arguments(
        world, display_name="New", specific_connected_organizations=[proposed])),
        InvalidInput, "organizationNotConfigured", "specific_connected_organizations",
        "Tailspin")


@pytest.mark.parametrize("who", ["assignment_manager", "reader", "other_owner", "creator"])
def test_only_owners_and_package_managers_change_policies(world, people, refused, who):
    actor = getattr(people, who)
    refused(lambda: policy_save(**policy_arguments(world, actor=actor, display_name="New")),
            NotAllowed, "notAllowed")
    refused(lambda: policy_delete(actor=actor, policy_id=world.policy.pk), NotAllowed,
            "notAllowed")
    refused(lambda: question_save(actor=actor, policy_id=world.policy.pk, text="Why?"),
            NotAllowed, "notAllowed")
    refused(lambda: question_delete(actor=actor, question_id=world.question.pk), NotAllowed,
            "notAllowed")


def test_a_package_manager_changes_a_policy_and_the_change_is_audited(world, people):
    policy_save(**policy_arguments(world, actor=people.package_manager,
                                   policy_id=world.policy.pk,
                                   display_name="Contoso partners",
                                   stages=two_stages(world, deadline_days=10)))
    stage = ApprovalStageSetting.objects.get(policy=world.policy, order=1)
    assert stage.duration_before_automatic_denial_days == 10
    event = events("policy.changed")[0]
    assert event.before["stages"][0]["deadlineDays"] == 14
    assert event.after["stages"][0]["deadlineDays"] == 10
    assert event.before["expirationDuration"] == "P30D"
    assert event.after["expirationDuration"] == "P90D"


def test_stages_can_be_dropped_when_nothing_waits_for_them(world):
    policy_save(**policy_arguments(world, policy_id=world.policy.pk,
                                   display_name="Contoso partners",
                                   stages=[StageSpec(approvers=[world.approver])]))
    assert list(world.policy.stages.values_list("order", flat=True)) == [1]


def test_the_number_of_stages_stays_while_requests_wait_for_approval(world, refused):
    submit_request(world)
    refused(lambda: policy_save(**policy_arguments(
        world, policy_id=world.policy.pk, display_name="Contoso partners",
        stages=[StageSpec(approvers=[world.approver])])),
        InvalidState, "stagesInUse", None, "1 request is waiting")
    # Approvers and deadlines may change under them.
    policy_save(**policy_arguments(world, policy_id=world.policy.pk,
                                   display_name="Contoso partners",
                                   stages=two_stages(world, deadline_days=3)))


def test_a_policy_stays_with_its_package(world, refused):
    other = PackageFactory(catalog=world.catalog)
    refused(lambda: policy_save(**policy_arguments(world, policy_id=world.policy.pk,
                                                   access_package_id=other.pk)),
            InvalidInput, "policyCannotMove", "access_package")


def test_a_passed_end_date_may_stay_when_other_fields_change(world, monkeypatch):
    end = clock.now() + timedelta(days=2)
    arguments = policy_arguments(world, policy_id=world.policy.pk,
                                 display_name="Contoso partners",
                                 expiration_type=ExpirationType.AFTER_DATETIME,
                                 expiration_end_at=end)
    policy_save(**arguments)
    later = clock.now() + timedelta(days=3)
    monkeypatch.setattr(clock, "now", lambda: later)
    policy = policy_save(**(arguments | {"spec": replace(arguments["spec"],
                                                         description="Ended.")}))
    assert policy.expiration_end_at == end and policy.description == "Ended."


def test_policy_delete(world, refused):
    def delete():
        policy_delete(actor=world.owner, policy_id=world.policy.pk)

    request = submit_request(world)
    refused(delete, InvalidState, "policyHasOpenRequests", None, "open request")
    approve_all(request, world.approver, world.second_approver)
    refused(delete, InvalidState, "policyHasAssignments", None, "1 person holds")
    assignments_end(assignment_ids=[request.assignment_id], reason=EndReason.REMOVED_BY_ADMIN)
    refused(delete, InvalidState, "policyHasHistory", None, "history")
    unused = policy_save(**policy_arguments(world, display_name="Unused"))
    question_save(actor=world.owner, policy_id=unused.pk, text="Why?")
    policy_delete(actor=world.owner, policy_id=unused.pk)
    assert not AssignmentPolicy.objects.filter(pk=unused.pk).exists()
    assert events("policy.deleted")[0].details == {"questions": ["Why?"]}


def test_a_canceled_request_still_keeps_its_policy(world, refused):
    request = submit_request(world)
    request_cancel(actor=world.requester, request_id=request.pk)
    refused(lambda: policy_delete(actor=world.owner, policy_id=world.policy.pk),
            InvalidState, "policyHasHistory")
