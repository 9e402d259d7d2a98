"""policy_body and policy_json without HTTP: Graph's policy JSON → a PolicySpec, and the
service's field names → Graph's property paths."""

from datetime import timedelta

import pytest

from governance.api.graph_json import InvalidBody
from governance.api.graph_paths import graph_path, refusal_message, under
from governance.api.policy_body import (
    PolicyBody,
    graph_defaults,
    stage_spec,
    subject_set,
)
from governance.api.policy_json import policy_json
from governance.choices import SubjectSetType
from governance.services.errors import InvalidInput
from governance.services.policy_spec import PolicySpec
from tests.factories import GroupFactory

MANAGER = {"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 2}


def single(user) -> dict:
    return {"@odata.type": "#microsoft.graph.singleUser", "userId": str(user.pk)}


def test_an_empty_body_gives_graphs_defaults(db):
    arguments = PolicyBody({"displayName": "P"}).over(graph_defaults())
    assert arguments.allowed_target_scope == "notSpecified"
    assert arguments.expiration_type == "noExpiration"
    assert arguments.enable_self_add is False and list(arguments.stages) == []


def test_a_patch_keeps_what_it_does_not_name(world):
    reading = PolicyBody({"requestorSettings": {"allowCustomAssignmentSchedule": True}})
    arguments = reading.over(PolicySpec.of(world.policy))
    assert arguments.allow_custom_schedule is True
    assert arguments.display_name == "Contoso partners"
    assert arguments.specific_connected_organizations == [world.organization]
    assert [stage.approvers for stage in arguments.stages] == [[world.approver],
                                                                  [world.second_approver]]
    assert reading.questions is None


def test_subject_sets(world):
    group = GroupFactory()
    assert subject_set(single(world.member), "x") == ("singleUser", world.member)
    assert subject_set({"@odata.type": "#microsoft.graph.groupMembers",
                        "groupId": str(group.pk)}, "x") == ("groupMembers", group)
    assert subject_set(MANAGER, "x") == ("requestorManager", 2)
    with pytest.raises(InvalidBody, match=r"x\.managerLevel"):
        subject_set(MANAGER | {"managerLevel": 3}, "x")
    with pytest.raises(InvalidBody, match=r"x: has no property 'groupId'"):
        subject_set(single(world.member) | {"groupId": "1"}, "x")
    with pytest.raises(InvalidBody, match=r"x\.userId: no user has the id '0'"):
        subject_set({"@odata.type": "#microsoft.graph.singleUser", "userId": "0"}, "x")


def test_a_stage_with_the_requestors_manager_and_a_group(world):
    group = GroupFactory()
    spec = stage_spec({
        "durationBeforeAutomaticDenial": "P14D",
        "primaryApprovers": [MANAGER, {"@odata.type": "#microsoft.graph.groupMembers",
                                       "groupId": str(group.pk)}],
        "fallbackPrimaryApprovers": [single(world.approver)],
        "isEscalationEnabled": True, "durationBeforeEscalation": "3 days, 0:00:00",
        "escalationApprovers": [single(world.second_approver)]}, "s")
    assert (spec.dynamic_approver, spec.manager_level) == (SubjectSetType.REQUESTOR_MANAGER, 2)
    assert spec.approver_group == group and spec.fallback_approvers == [world.approver]
    assert (spec.deadline_days, spec.escalate_after_days) == (14, 3)
    with pytest.raises(InvalidBody, match=r"s\.primaryApprovers\[1\]: a stage names at most"):
        stage_spec({"primaryApprovers": [MANAGER, MANAGER]}, "s")
    with pytest.raises(InvalidBody, match=r"s\.fallbackEscalationApprovers"):
        stage_spec({"fallbackEscalationApprovers": [single(world.approver)]}, "s")


def test_targets_requestor_and_notification_settings(world):
    group = GroupFactory()
    arguments = PolicyBody({
        "specificAllowedTargets": [single(world.member),
                                   {"@odata.type": "#microsoft.graph.groupMembers",
                                    "groupId": str(group.pk)}],
        "requestorSettings": {"enableOnBehalfRequestorsToAddAccess": True,
                              "onBehalfRequestors": [MANAGER | {"managerLevel": 1}],
                              "isRequestorJustificationRequired": True},
        "notificationSettings": {"isAssignmentNotificationDisabled": True},
        "expiration": {"type": "afterDuration", "duration": "PT8H"},
    }).over(graph_defaults())
    assert arguments.specific_users == [world.member]
    assert arguments.specific_groups == [group]
    assert arguments.enable_on_behalf_of_direct_reports is True
    assert arguments.is_requestor_justification_required is True
    assert arguments.send_assignment_emails is False
    assert arguments.expiration_duration == timedelta(hours=8)
    for body, where in (
            ({"requestorSettings": {"enableOnBehalfRequestorsToRemoveAccess": True}},
             "requestorSettings.enableOnBehalfRequestorsToRemoveAccess"),
            ({"requestorSettings": {"onBehalfRequestors": [MANAGER]}},
             r"requestorSettings.onBehalfRequestors\[0\]"),
            ({"specificAllowedTargets": [MANAGER]}, r"specificAllowedTargets\[0\]"),
            ({"automaticRequestSettings": {}}, "automaticRequestSettings"),
            ({"expiration": {"type": "afterDuration"}}, "expiration.duration")):
        with pytest.raises(InvalidBody, match=where):
            PolicyBody(body).over(graph_defaults())


def test_service_fields_become_graph_paths():
    assert graph_path("stages[1].deadline_days") == (
        "requestApprovalSettings.stages[1].durationBeforeAutomaticDenial")
    assert graph_path("stages[0].fallback_approvers") == (
        "requestApprovalSettings.stages[0].fallbackPrimaryApprovers")
    assert graph_path("specific_users") == "specificAllowedTargets"
    assert graph_path("expiration_end_at") == "expiration.endDateTime"
    assert graph_path("questions[2].regex_pattern") == "questions[2].regexPattern"
    assert graph_path("question_7") == "answers (question 7)"
    assert graph_path("is_hidden") == "isHidden"
    assert refusal_message(under(InvalidInput("Too long.", field="regex_pattern"),
                                 "questions[2]")) == "questions[2].regexPattern: Too long."
    assert refusal_message(under(InvalidInput("Unknown."), "questions[0]")) == (
        "questions[0]: Unknown.")


def test_the_worlds_policy_as_graph_writes_it(world):
    item = policy_json(world.policy, expand=("accessPackage", "catalog"))
    assert item["allowedTargetScope"] == "specificConnectedOrganizationUsers"
    assert item["specificAllowedTargets"] == [{
        "@odata.type": "#microsoft.graph.connectedOrganizationMembers",
        "connectedOrganizationId": str(world.organization.pk), "description": "Contoso"}]
    assert item["expiration"]["duration"] == "P30D"
    assert [s["durationBeforeAutomaticDenial"]
            for s in item["requestApprovalSettings"]["stages"]] == ["P14D", "P14D"]
    assert item["questions"][0]["regexPattern"] == r"[A-Z]{3}-\d{4}"
    assert item["reviewSettings"] is None
    assert item["accessPackage"]["id"] == str(world.package.pk)
    assert item["catalog"]["id"] == str(world.catalog.pk)


@pytest.mark.parametrize("body", [
    {"specificAllowedTargets": {"userId": "1"}}, {"specificAllowedTargets": [5]},
    {"expiration": "P30D"}, {"expiration": {"type": "afterDuration", "duration": 30}},
    {"requestorSettings": []}, {"requestApprovalSettings": {"stages": {}}},
    {"requestApprovalSettings": {"stages": [None]}},
    {"requestApprovalSettings": {"stages": [{"primaryApprovers": [[]]}]}},
    {"requestApprovalSettings": {"stages": [{"durationBeforeAutomaticDenial": None}]}},
    {"requestApprovalSettings": {"stages": [{"isEscalationEnabled": True}]}},
    {"questions": {}}, {"questions": ["Why?"]}, {"questions": [{"text": 5}]},
    {"questions": [{"choices": [{"actualValue": 1}]}]}, {"questions": [{"sequence": "1"}]},
    {"questions": [{"localizations": [{"languageCode": 5}]}]},
    {"reviewSettings": []}, {"notificationSettings": {"isAssignmentNotificationDisabled": 1}},
    {"allowedTargetScope": None}, {"displayName": ["x"]},
])
def test_malformed_parts_are_400s_naming_where(db, body):
    with pytest.raises(InvalidBody) as refused:
        PolicyBody(body).over(graph_defaults())
    assert refused.value.message.split(":")[0].split(".")[0].split("[")[0] in body
