"""assignmentPolicies: Graph v1.0's accessPackageAssignmentPolicy both ways, created, replaced
(PUT), changed (PATCH) and deleted; refusals name the property path and change nothing."""

import pytest

from governance.choices import QuestionKind
from governance.models import AssignmentPolicy, Question
from tests.api.conftest import EM, assert_graph_error, assert_refused_three_ways, page_cost
from tests.factories import PackageFactory, PolicyFactory, UserFactory, add_stage

POLICIES = f"{EM}/assignmentPolicies"
SINGLE = "#microsoft.graph.singleUser"


def tutorial_policy(package, user) -> dict:
    """Graph's tutorial: specific users, 30 days, no approval."""
    return {
        "displayName": "Specific users",
        "description": "Specific users can request assignment",
        "allowedTargetScope": "specificDirectoryUsers",
        "specificAllowedTargets": [{"@odata.type": SINGLE, "userId": str(user.pk)}],
        "expiration": {"endDateTime": None, "duration": "P30D", "type": "afterDuration"},
        "requestorSettings": {
            "enableTargetsToSelfAddAccess": True, "enableTargetsToSelfUpdateAccess": False,
            "enableTargetsToSelfRemoveAccess": True, "allowCustomAssignmentSchedule": False,
            "enableOnBehalfRequestorsToAddAccess": False,
            "enableOnBehalfRequestorsToUpdateAccess": False,
            "enableOnBehalfRequestorsToRemoveAccess": False, "onBehalfRequestors": []},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": False,
                                    "isApprovalRequiredForUpdate": False, "stages": []},
        "accessPackage": {"id": str(package.pk)},
    }


def two_stage_policy(world) -> dict:
    def stage(approver, **more):
        return {"durationBeforeAutomaticDenial": "P7D", "isApproverJustificationRequired": True,
                "isEscalationEnabled": False, "durationBeforeEscalation": "PT0S",
                "primaryApprovers": [{"@odata.type": SINGLE, "userId": str(approver.pk)}],
                "fallbackPrimaryApprovers": [], "escalationApprovers": [],
                "fallbackEscalationApprovers": [], **more}

    escalation = UserFactory(email="escalation@access.example")
    return tutorial_policy(world.package, world.member) | {
        "displayName": "Two stages",
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": True, "isApprovalRequiredForUpdate": False,
            "isRequestorJustificationRequired": True,
            "stages": [stage(world.approver),
                       stage(world.second_approver, isEscalationEnabled=True,
                             durationBeforeEscalation="P2D",
                             escalationApprovers=[{"@odata.type": SINGLE,
                                                   "userId": str(escalation.pk)}])]},
        "questions": [
            {"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
             "sequence": 1, "isRequired": True, "isAnswerEditable": False,
             "text": "Project code?", "localizations": [{"text": "Code ?",
                                                         "languageCode": "fr"}],
             "isSingleLineQuestion": True, "regexPattern": "[A-Z]{3}"},
            {"@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion",
             "sequence": 2, "isRequired": False, "text": "Region?",
             "choices": [{"actualValue": "eu", "text": "Europe", "localizations": []},
                         {"actualValue": "us", "text": "Americas"}],
             "isMultipleSelectionAllowed": True}],
    }


def test_graph_tutorial_policy(world, callers):
    response = callers.writer.post(POLICIES, tutorial_policy(world.package, world.member),
                                   format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["@odata.context"].endswith("/assignmentPolicies/$entity")
    assert body["allowedTargetScope"] == "specificDirectoryUsers"
    assert body["specificAllowedTargets"] == [
        {"@odata.type": SINGLE, "userId": str(world.member.pk), "description": "Member"}]
    assert body["expiration"] == {"type": "afterDuration", "endDateTime": None,
                                  "duration": "P30D"}
    assert body["requestorSettings"]["enableTargetsToSelfAddAccess"] is True
    assert body["requestorSettings"]["enableTargetsToSelfUpdateAccess"] is False
    assert body["requestApprovalSettings"]["stages"] == []
    policy = AssignmentPolicy.objects.get(pk=body["id"])
    assert list(policy.specific_users.all()) == [world.member]
    assert not policy.is_approval_required_for_add


def test_two_approval_stages_and_questions(world, callers):
    response = callers.owner.post(POLICIES, two_stage_policy(world), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    approval = body["requestApprovalSettings"]
    assert approval["isApprovalRequiredForAdd"] and approval["isRequestorJustificationRequired"]
    first, second = approval["stages"]
    assert first["durationBeforeAutomaticDenial"] == "P7D"
    assert first["primaryApprovers"][0]["userId"] == str(world.approver.pk)
    assert (first["isEscalationEnabled"], first["durationBeforeEscalation"]) == (False, "PT0S")
    assert (second["isEscalationEnabled"], second["durationBeforeEscalation"]) == (True, "P2D")
    assert second["escalationApprovers"][0]["@odata.type"] == SINGLE
    text, choice = body["questions"]
    assert text["@odata.type"] == "#microsoft.graph.accessPackageTextInputQuestion"
    assert text["localizations"] == [{"text": "Code ?", "languageCode": "fr"}]
    assert text["regexPattern"] == "[A-Z]{3}"
    assert choice["choices"][0] == {"actualValue": "eu", "text": "Europe", "localizations": []}
    assert choice["isMultipleSelectionAllowed"] is True
    policy = AssignmentPolicy.objects.get(pk=body["id"])
    assert policy.stages.count() == 2 and policy.questions.count() == 2
    assert policy.questions.get(sequence=2).kind == QuestionKind.CHOICE


def test_what_graph_sends_back_is_accepted_unchanged(world, callers):
    """The SDK reads a policy and writes it back: PUT of a GET changes nothing."""
    created = callers.writer.post(POLICIES, two_stage_policy(world), format="json").json()
    url = f"{POLICIES}/{created['id']}"
    read = callers.writer.get(url).json()
    read.pop("@odata.context")
    again = callers.writer.put(url, read, format="json")
    assert again.status_code == 200, again.content
    after = again.json()
    after.pop("@odata.context")
    assert after | {"modifiedDateTime": None} == read | {"modifiedDateTime": None}


def test_kiota_durations(world, callers):
    body = tutorial_policy(world.package, world.member)
    body["expiration"]["duration"] = "30 days, 0:00:00"
    response = callers.writer.post(POLICIES, body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["expiration"]["duration"] == "P30D"


def test_list_filter_and_expand(world, callers):
    other = PolicyFactory(access_package=PackageFactory(catalog=world.catalog, display_name="B"))
    response = callers.reader.get(POLICIES, {
        "$filter": f"accessPackage/id eq '{world.package.pk}'",
        "$expand": "accessPackage,catalog"})
    [policy] = response.json()["value"]
    assert policy["id"] == str(world.policy.pk)
    assert policy["accessPackage"]["displayName"] == "Falcon collaboration"
    assert policy["catalog"]["displayName"] == "Projects"
    assert policy["specificAllowedTargets"][0]["@odata.type"] == (
        "#microsoft.graph.connectedOrganizationMembers")
    names = callers.owner.get(POLICIES, {"$filter": f"displayName eq '{other.display_name}'"})
    assert [p["id"] for p in names.json()["value"]] == [str(other.pk)]
    under = callers.owner.get(f"{EM}/accessPackages/{world.package.pk}/assignmentPolicies")
    assert [p["id"] for p in under.json()["value"]] == [str(world.policy.pk)]
    assert_graph_error(callers.reader.get(POLICIES, {"$expand": "questions"}), 400, "questions")


def test_put_replaces_and_patch_changes_only_what_it_names(world, callers):
    url = f"{POLICIES}/{world.policy.pk}"
    patched = callers.owner.patch(url, {"description": "Partners only",
                                        "expiration": {"type": "afterDuration",
                                                       "duration": "P90D"}}, format="json")
    assert patched.status_code == 204, patched.content
    policy = AssignmentPolicy.objects.get(pk=world.policy.pk)
    assert policy.description == "Partners only" and policy.expiration_duration.days == 90
    assert policy.stages.count() == 2 and policy.questions.count() == 1
    assert policy.specific_connected_organizations.get() == world.organization
    replaced = callers.owner.put(url, tutorial_policy(world.package, world.member) | {
        "displayName": "Contoso partners"}, format="json")
    assert replaced.status_code == 200, replaced.content
    policy.refresh_from_db()
    assert policy.allowed_target_scope == "specificDirectoryUsers"
    assert policy.stages.count() == 0 and policy.questions.count() == 0
    moved = tutorial_policy(PackageFactory(catalog=world.catalog), world.member)
    assert_graph_error(callers.owner.put(url, moved, format="json"), 400, "accessPackage")


def test_questions_are_kept_by_id(world, callers):
    url = f"{POLICIES}/{world.policy.pk}"
    questions = [{"id": str(world.question.pk), "text": "Which code?",
                  "regexPattern": r"[A-Z]{3}-\d{4}"},
                 {"text": "Why?", "isSingleLineQuestion": False}]
    assert callers.owner.patch(url, {"questions": questions},
                               format="json").status_code == 204
    world.question.refresh_from_db()
    assert world.question.text == "Which code?"
    assert list(world.policy.questions.values_list("text", flat=True)) == ["Which code?", "Why?"]
    unknown = [{"id": "999999", "text": "x"}]
    assert_graph_error(callers.owner.patch(url, {"questions": unknown}, format="json"), 400,
                       "questions[0].id")


def test_bad_bodies_name_the_property_and_change_nothing(world, callers):
    base = two_stage_policy(world)
    stages = base["requestApprovalSettings"]["stages"]

    def with_stage(**changes):
        return base | {"requestApprovalSettings": base["requestApprovalSettings"] | {
            "stages": [stages[0] | changes, stages[1]]}}

    for body, words in (
            (base | {"colour": "red"}, ("colour",)),
            (base | {"allowedTargetScope": "everyone"}, ("allowedTargetScope", "everyone")),
            (base | {"expiration": {"type": "afterDuration", "duration": "thirty days"}},
             ("expiration.duration",)),
            (base | {"expiration": {"type": "afterDuration", "duration": "P1M"}},
             ("expiration.duration", "months")),
            (base | {"expiration": {"type": "afterDateTime", "endDateTime": "2030-01-01"}},
             ("expiration.endDateTime",)),
            (base | {"expiration": {"type": "afterDateTime",
                                    "endDateTime": "2020-01-01T00:00:00Z"}},
             ("expiration.endDateTime", "passed")),
            (base | {"expiration": {"type": "whenever"}}, ("expiration.type", "whenever")),
            (with_stage(durationBeforeAutomaticDenial="P20D"),
             ("requestApprovalSettings.stages[0].durationBeforeAutomaticDenial", "14 days")),
            (with_stage(durationBeforeAutomaticDenial="PT5H"),
             ("requestApprovalSettings.stages[0].durationBeforeAutomaticDenial", "whole")),
            (with_stage(primaryApprovers=[{"@odata.type": "#microsoft.graph.nobody"}]),
             ("requestApprovalSettings.stages[0].primaryApprovers[0].@odata.type",)),
            (with_stage(primaryApprovers=[{"@odata.type": SINGLE, "userId": "42x"}]),
             ("requestApprovalSettings.stages[0].primaryApprovers[0].userId",)),
            (with_stage(primaryApprovers=[]),
             ("requestApprovalSettings.stages[0].primaryApprovers", "no approver")),
            (with_stage(extra=1), ("requestApprovalSettings.stages[0]", "extra")),
            (base | {"requestorSettings": {"enableTargetsToSelfAddAccess": "yes"}},
             ("requestorSettings.enableTargetsToSelfAddAccess",)),
            (base | {"questions": [{"text": "Ok?"}, {"text": "Bad", "regexPattern": "("}]},
             ("questions[1].regexPattern",)),
            (base | {"questions": [{"@odata.type": "#microsoft.graph.poll", "text": "x"}]},
             ("questions[0].@odata.type",)),
            (base | {"reviewSettings": {"isEnabled": True}}, ("reviewSettings",)),
            (base | {"accessPackage": {"id": "abc"}}, ("accessPackage",))):
        response = callers.writer.post(POLICIES, body, format="json")
        assert_graph_error(response, 400, *words)
    assert AssignmentPolicy.objects.count() == 1
    assert Question.objects.count() == 1


def test_delete(world, callers):
    policy = PolicyFactory(access_package=world.package, display_name="Spare")
    assert callers.owner.delete(f"{POLICIES}/{policy.pk}").status_code == 204
    assert not AssignmentPolicy.objects.filter(pk=policy.pk).exists()
    from tests.factories import submit_request
    submit_request(world)
    assert_graph_error(callers.owner.delete(f"{POLICIES}/{world.policy.pk}"), 409,
                       "open request")


def test_permissions(world, callers):
    url = f"{POLICIES}/{world.policy.pk}"
    assert callers.reader.get(url).status_code == 200
    assert callers.owner.get(url).status_code == 200
    assert callers.stranger.get(POLICIES).json()["value"] == []
    assert callers.member.get(POLICIES).json()["value"] == []
    assert_refused_three_ways(callers, "get", url)
    assert_refused_three_ways(callers, "patch", url, {"description": "x"})
    assert_refused_three_ways(callers, "put", url, tutorial_policy(world.package, world.member))
    assert_refused_three_ways(callers, "delete", url)
    assert_refused_three_ways(callers, "post", POLICIES,
                              tutorial_policy(world.package, world.member))
    assert_graph_error(callers.writer.get(f"{POLICIES}/nope"), 404)
    assert AssignmentPolicy.objects.get(pk=world.policy.pk).description == ""
    assert AssignmentPolicy.objects.count() == 1


def test_a_catalog_reader_may_read_but_not_change(world, callers, catalog_reader):
    reader = catalog_reader
    url = f"{POLICIES}/{world.policy.pk}"
    assert reader.get(url).status_code == 200
    assert_graph_error(reader.patch(url, {"description": "x"}, format="json"), 403)
    assert_graph_error(reader.delete(url), 403)


def test_a_page_costs_the_same_for_2_and_20_policies(world, callers):
    def count():
        return page_cost(callers.writer, POLICIES, {"$expand": "accessPackage,catalog"})

    PolicyFactory(access_package=world.package)
    few, shown = count()
    assert shown == 2
    for _ in range(18):
        policy = PolicyFactory(access_package=PackageFactory(catalog=world.catalog))
        add_stage(policy, world.approver, fallback=[world.second_approver])
        policy.specific_users.add(world.member)
    many, shown = count()
    assert (many, shown) == (few, 20)


def test_review_settings_pass_through_as_graph_writes_them(world, callers):
    review = {"isEnabled": True, "isSelfReview": True, "expirationBehavior": "removeAccess",
              "schedule": {"startDateTime": "2030-01-07T09:00:00Z",
                           "expiration": {"type": "afterDuration", "duration": "P7D"},
                           "recurrence": {"pattern": {"type": "weekly", "interval": 1}}},
              "primaryReviewers": [], "fallbackReviewers": []}
    body = tutorial_policy(world.package, world.member) | {"reviewSettings": review}
    response = callers.writer.post(POLICIES, body, format="json")
    assert response.status_code == 201, response.content
    shown = response.json()["reviewSettings"]
    assert (shown["isEnabled"], shown["isSelfReview"], shown["expirationBehavior"]) == (
        True, True, "removeAccess")
    assert shown["schedule"]["recurrence"]["pattern"]["type"] == "weekly"
    url = f"{POLICIES}/{response.json()['id']}"
    assert callers.writer.patch(url, {"reviewSettings": None},
                                format="json").status_code == 204
    assert callers.writer.get(url).json()["reviewSettings"] is None


WEEKLY = {"startDateTime": "2030-01-07T09:00:00Z",
          "recurrence": {"pattern": {"type": "weekly", "interval": 1}}}


@pytest.mark.parametrize("extra", [
    {"specificAllowedTargets": [{"@odata.type": ["x"]}]},
    {"questions": [{"@odata.type": {}, "text": "x"}]},
    {"questions": [{"text": "x", "sequence": 100000}]},
    {"questions": [{"text": "x", "localizations": [{"languageCode": "fr", "text": 5}]}]},
    {"questions": [{"text": "x", "choices": [{"actualValue": "a", "text": "A",
                                              "localizations": {}}]}]},
    {"reviewSettings": {"isEnabled": True, "isSelfReview": True,
                        "schedule": WEEKLY | {"expiration": "P7D"}}},
    {"reviewSettings": {"isEnabled": True, "isSelfReview": True,
                        "schedule": WEEKLY | {"recurrence": "weekly"}}},
    {"reviewSettings": {"isEnabled": True, "schedule": WEEKLY, "primaryReviewers": ["x"]}},
    {"reviewSettings": {"isEnabled": True, "isSelfReview": True, "schedule": WEEKLY,
                        "expirationBehavior": ["x"]}},
    {"expiration": {"type": "afterDuration", "duration": "P99999999999D"}},
    {"expiration": {"type": "afterDuration", "duration": "999999999 days, 0:00:00"}},
    {"expiration": {"type": "afterDateTime", "endDateTime": "9999-12-31T23:59:59-05:00"}},
    {"requestApprovalSettings": {"isApprovalRequiredForAdd": True, "stages": [
        {"durationBeforeAutomaticDenial": "P99999999999D", "primaryApprovers": []}]}},
    {"displayName": "x" * 500}, {"displayName": "a\x00b"}, {"description": "\x00"},
    {"allowedTargetScope": ["x"]},
    {"accessPackage": {"id": "99999999999999999"}}, {"accessPackage": ["1"]},
])
def test_odd_bodies_are_refused_not_failed(world, callers, extra):
    body = tutorial_policy(world.package, world.member) | extra
    response = callers.writer.post(POLICIES, body, format="json")
    assert 400 <= response.status_code < 500, (extra, response.content[:300])
    assert AssignmentPolicy.objects.count() == 1
