"""Automatic policies in Graph's words: created, read and PATCHed with an attributeRuleMembers
target and automaticRequestSettings; the queued rule run assigns the people the rule matches,
and their assignments say which policy (an automatic one) made them; every refusal names the
Graph property and changes nothing. accessPackages/{id}/getApplicablePolicyRequirements lists
the policies the signed-in person may request a package under, never an automatic one."""

import pytest

from governance.api.schema import build_document
from governance.choices import ASSIGNMENT_ACTIVE, AllowedTargetScope, BulkJobState
from governance.models import Assignment, AssignmentPolicy, RuleEvaluation
from governance.services.automatic import rule_evaluation_run
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec
from tests.api.conftest import EM, assert_graph_error, person_client
from tests.factories import (
    GroupFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    add_question,
    group_role,
    open_package,
    snapshot,
)

POLICIES = f"{EM}/assignmentPolicies"
ASSIGNMENTS = f"{EM}/assignments"
REQUESTS = f"{EM}/assignmentRequests"
RULE_MEMBERS = "#microsoft.graph.attributeRuleMembers"
SALES_RULE = '(user.department -eq "Sales")'


def requirements_url(package) -> str:
    return f"{EM}/accessPackages/{package.pk}/getApplicablePolicyRequirements"


@pytest.fixture
def sales(world):
    """A Sales workspace package (one local group); two people of Sales (one written in lower
    case, as Entra's -eq ignores case) and one of Finance."""
    package = PackageFactory(catalog=world.catalog, display_name="Sales workspace")
    group_role(package, GroupFactory(display_name="Sales team"))
    people = {name: UserFactory(email=f"{name}@access.example", department=department)
              for name, department in (("ann", "Sales"), ("bob", "sales"),
                                       ("dee", "Finance"))}
    return package, people


def automatic_body(package, **changes) -> dict:
    """Graph's "Create a policy that automatically creates assignments based on a membership
    rule" example, with the automaticRequestSettings the SDK's snippet of it sets."""
    return {
        "displayName": "Sales department users",
        "description": "All users from sales department",
        "allowedTargetScope": "specificDirectoryUsers",
        "specificAllowedTargets": [{
            "@odata.type": RULE_MEMBERS,
            "description": "Membership rule for all users from sales department",
            "membershipRule": SALES_RULE}],
        "automaticRequestSettings": {
            "requestAccessForAllowedTargets": True,
            "removeAccessWhenTargetLeavesAllowedTargets": True,
            "gracePeriodBeforeAccessRemoval": "P7D"},
        "accessPackage": {"id": str(package.pk)},
    } | changes


def run_queued(policy_id) -> RuleEvaluation:
    """The rule run the last save queued (its message waits for a worker; run it here)."""
    evaluation = RuleEvaluation.objects.filter(policy_id=policy_id).order_by("-pk").first()
    assert evaluation is not None and evaluation.state == BulkJobState.QUEUED
    return rule_evaluation_run(evaluation_id=evaluation.pk)


def holders(package) -> set[str]:
    return set(Assignment.objects.filter(access_package=package, state__in=ASSIGNMENT_ACTIVE)
               .values_list("target__email", flat=True))


def saved_automatic(world, package, rule=SALES_RULE) -> AssignmentPolicy:
    return policy_save(actor=world.owner, access_package_id=package.pk, spec=PolicySpec(
        display_name="Everyone in Sales", is_automatic=True, membership_rule=rule,
        expiration_type="noExpiration", expiration_duration=None))


# Writing and reading


def test_create_an_automatic_policy_as_graph_documents_it(world, callers, sales):
    package, _people = sales
    response = callers.writer.post(POLICIES, automatic_body(package), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["allowedTargetScope"] == "specificDirectoryUsers"
    assert body["specificAllowedTargets"] == [{
        "@odata.type": RULE_MEMBERS,
        "description": "Membership rule for all users from sales department",
        "membershipRule": SALES_RULE}]
    assert body["automaticRequestSettings"] == {
        "requestAccessForAllowedTargets": True,
        "removeAccessWhenTargetLeavesAllowedTargets": True,
        "gracePeriodBeforeAccessRemoval": "P7D"}
    # Nobody requests under it: every requestor and approval setting is off.
    assert not any(value for value in body["requestorSettings"].values())
    assert body["requestApprovalSettings"] == {
        "isApprovalRequiredForAdd": False, "isApprovalRequiredForUpdate": False,
        "isRequestorJustificationRequired": False, "stages": []}
    assert body["expiration"]["type"] == "noExpiration"

    policy = AssignmentPolicy.objects.get(pk=body["id"])
    assert (policy.is_automatic, policy.membership_rule) == (True, SALES_RULE)
    assert policy.allowed_target_scope == AllowedTargetScope.SPECIFIC_DIRECTORY_USERS
    assert holders(package) == set()  # nothing until the queued run
    evaluation = run_queued(policy.pk)
    assert (evaluation.state, evaluation.matched, evaluation.added) == (BulkJobState.DONE, 2, 2)
    assert holders(package) == {"ann@access.example", "bob@access.example"}
    # Read back as it was written.
    read = callers.reader.get(f"{POLICIES}/{policy.pk}").json()
    assert {key: value for key, value in read.items() if key != "modifiedDateTime"} == {
        key: value for key, value in body.items() if key != "modifiedDateTime"}


def test_an_automatic_policys_assignments_and_requests_say_how_they_were_made(
        world, callers, sales):
    package, _people = sales
    policy_id = callers.writer.post(POLICIES, automatic_body(package), format="json").json()["id"]
    run_queued(policy_id)
    response = callers.reader.get(ASSIGNMENTS, {
        "$filter": f"assignmentPolicy/id eq '{policy_id}'",
        "$expand": "assignmentPolicy,target", "$orderby": "id"})
    assert response.status_code == 200, response.content
    found = response.json()["value"]
    assert sorted(item["target"]["email"] for item in found) == [
        "ann@access.example", "bob@access.example"]
    # Graph's assignment has no reason of its own: its expanded policy says it, being an
    # automatic one (automaticRequestSettings is not null).
    for item in found:
        assert item["assignmentPolicy"] == {
            "id": policy_id, "displayName": "Sales department users",
            "description": "All users from sales department",
            "allowedTargetScope": "specificDirectoryUsers",
            "automaticRequestSettings": {"requestAccessForAllowedTargets": True,
                                         "removeAccessWhenTargetLeavesAllowedTargets": True,
                                         "gracePeriodBeforeAccessRemoval": "P7D"}}
        assert item["schedule"]["expiration"]["type"] == "noExpiration"
        linked = callers.reader.get(f"{ASSIGNMENTS}/{item['id']}/assignmentPolicy").json()
        assert linked["id"] == policy_id
    assert callers.reader.get(f"{POLICIES}/{policy_id}").json()["automaticRequestSettings"][
        "requestAccessForAllowedTargets"] is True
    requests = callers.reader.get(REQUESTS, {"$filter": "requestType eq 'systemAdd'",
                                             "$expand": "assignment"}).json()["value"]
    assert sorted(item["assignment"]["id"] for item in requests) == sorted(
        item["id"] for item in found)
    assert {item["state"] for item in requests} == {"delivered"}

    # A requested policy says null, as Graph does.
    _package, requested = open_package(world)
    for other in (requested, world.policy):
        item = callers.reader.get(f"{POLICIES}/{other.pk}").json()
        assert "automaticRequestSettings" in item and item["automaticRequestSettings"] is None


def test_patch_changes_only_what_it_names_and_a_new_rule_runs_again(world, callers, sales):
    package, _people = sales
    policy_id = callers.writer.post(POLICIES, automatic_body(package), format="json").json()["id"]
    run_queued(policy_id)
    url = f"{POLICIES}/{policy_id}"

    response = callers.writer.patch(url, {"automaticRequestSettings": {
        "gracePeriodBeforeAccessRemoval": "P14D"}}, format="json")
    assert response.status_code == 204, response.content
    settings = callers.writer.get(url).json()["automaticRequestSettings"]
    assert settings == {"requestAccessForAllowedTargets": True,
                        "removeAccessWhenTargetLeavesAllowedTargets": True,
                        "gracePeriodBeforeAccessRemoval": "P14D"}

    rule = 'user.department -in ["Sales", "Finance"]'
    response = callers.owner.patch(url, {"specificAllowedTargets": [
        {"@odata.type": RULE_MEMBERS, "description": "Sales and Finance",
         "membershipRule": rule}]}, format="json")
    assert response.status_code == 204, response.content
    assert run_queued(policy_id).added == 1
    assert holders(package) == {"ann@access.example", "bob@access.example",
                                "dee@access.example"}
    item = callers.writer.get(url).json()
    assert item["specificAllowedTargets"] == [
        {"@odata.type": RULE_MEMBERS, "description": "Sales and Finance", "membershipRule": rule}]
    assert item["automaticRequestSettings"]["gracePeriodBeforeAccessRemoval"] == "P14D"

    # A new name is no new rule: nothing is queued.
    queued = RuleEvaluation.objects.filter(policy_id=policy_id).count()
    response = callers.writer.patch(url, {"displayName": "Sales and Finance"}, format="json")
    assert response.status_code == 204, response.content
    assert RuleEvaluation.objects.filter(policy_id=policy_id).count() == queued
    assert callers.writer.get(url).json()["specificAllowedTargets"][0]["membershipRule"] == rule

    # As written back from a GET (PUT), it stays as it is; a grace of nothing is PT0S.
    whole = callers.writer.get(url).json()
    whole.pop("@odata.context")
    whole["automaticRequestSettings"]["gracePeriodBeforeAccessRemoval"] = "PT0S"
    response = callers.writer.put(url, whole, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["automaticRequestSettings"]["gracePeriodBeforeAccessRemoval"] == \
        "PT0S"
    assert AssignmentPolicy.objects.get(pk=policy_id).grace_period_before_access_removal \
        .total_seconds() == 0


# Refusals


def refused(client, method, url, body, *words) -> None:
    before = (snapshot(), sorted(AssignmentPolicy.objects.values_list(
        "pk", "display_name", "membership_rule", "grace_period_before_access_removal",
        "is_automatic")), RuleEvaluation.objects.count())
    response = getattr(client, method)(url, body, format="json")
    assert_graph_error(response, 400, *words)
    assert (snapshot(), sorted(AssignmentPolicy.objects.values_list(
        "pk", "display_name", "membership_rule", "grace_period_before_access_removal",
        "is_automatic")), RuleEvaluation.objects.count()) == before


def test_refusals_name_the_graph_property_and_change_nothing(world, callers, sales):
    package, _people = sales
    rule = automatic_body(package)["specificAllowedTargets"][0]
    stage = {"durationBeforeAutomaticDenial": "P7D", "primaryApprovers": [
        {"@odata.type": "#microsoft.graph.singleUser", "userId": str(world.approver.pk)}]}
    for changes, words in (
            # The rule does not read: the error keeps its column.
            ({"specificAllowedTargets": [rule | {"membershipRule": "user.department -eq"}]},
             ("specificAllowedTargets[0].membershipRule: Column 20:", "ends too soon")),
            ({"specificAllowedTargets": [rule | {"membershipRule": 'user.shoeSize -eq "9"'}]},
             ("specificAllowedTargets[0].membershipRule: Column 1:", "user.shoeSize")),
            ({"specificAllowedTargets": [rule | {"membershipRule": 7}]},
             ("specificAllowedTargets[0].membershipRule: expected a string",)),
            ({"specificAllowedTargets": [rule | {"membershipRule": ""}]},
             ("specificAllowedTargets: ", "membershipRule")),
            ({"specificAllowedTargets": []}, ("specificAllowedTargets: ", "attributeRuleMembers")),
            ({"specificAllowedTargets": [rule, rule]},
             ("specificAllowedTargets[1]: ", "one membership rule")),
            ({"specificAllowedTargets": [rule, {"@odata.type": "#microsoft.graph.singleUser",
                                                "userId": str(world.member.pk)}]},
             ("specificAllowedTargets[1]: ", "only one #microsoft.graph.attributeRuleMembers")),
            ({"specificAllowedTargets": [rule | {"membershipRule": SALES_RULE, "owner": "x"}]},
             ("specificAllowedTargets[0]: has no property 'owner'",)),
            # Approval and requestor settings are for requested policies.
            ({"requestApprovalSettings": {"isApprovalRequiredForAdd": False,
                                          "stages": [stage]}},
             ("requestApprovalSettings.stages: ", "without approval")),
            ({"requestApprovalSettings": {"isApprovalRequiredForAdd": True}},
             ("requestApprovalSettings.isApprovalRequiredForAdd: ", "must be false")),
            ({"requestorSettings": {"enableTargetsToSelfAddAccess": True}},
             ("requestorSettings.enableTargetsToSelfAddAccess: ", "must be false")),
            ({"requestorSettings": {"isRequestorJustificationRequired": True}},
             ("requestorSettings.isRequestorJustificationRequired: ",)),
            ({"allowedTargetScope": "allMemberUsers"},
             ("allowedTargetScope: ", "specificDirectoryUsers")),
            ({"questions": [{"text": "Why?"}]}, ("questions: ", "no questions")),
            # automaticRequestSettings itself.
            ({"automaticRequestSettings": {"gracePeriodBeforeAccessRemoval": "P5000D"}},
             ("automaticRequestSettings.gracePeriodBeforeAccessRemoval: ", "3660 days")),
            ({"automaticRequestSettings": {"gracePeriodBeforeAccessRemoval": "a week"}},
             ("automaticRequestSettings.gracePeriodBeforeAccessRemoval: ", "ISO 8601")),
            ({"automaticRequestSettings": {"gracePeriodBeforeAccessRemoval": "P1M"}},
             ("automaticRequestSettings.gracePeriodBeforeAccessRemoval: ", "months")),
            ({"automaticRequestSettings": {"gracePeriodBeforeAccessRemoval": "-P1D"}},
             ("automaticRequestSettings.gracePeriodBeforeAccessRemoval: ",)),
            ({"automaticRequestSettings": {"requestAccessForAllowedTargets": "true"}},
             ("automaticRequestSettings.requestAccessForAllowedTargets: expected true or false",)),
            ({"automaticRequestSettings": {"isEnabled": True}},
             ("automaticRequestSettings: has no property 'isEnabled'",)),
            ({"automaticRequestSettings": "yes"},
             ("automaticRequestSettings: expected a JSON object",)),
            # A rule without automaticRequestSettings is no requested policy's target.
            ({"automaticRequestSettings": None},
             ("specificAllowedTargets[0]: ", "give automaticRequestSettings too"))):
        refused(callers.writer, "post", POLICIES, automatic_body(package, **changes), *words)

    # One automatic policy per package, as in Entra.
    saved_automatic(world, package)
    refused(callers.writer, "post", POLICIES, automatic_body(package, displayName="Again"),
            "specificAllowedTargets[0].membershipRule: ", "already has an automatic policy")


def test_a_policy_keeps_its_kind(world, callers, sales):
    package, _people = sales
    automatic = saved_automatic(world, package)
    _open, requested = open_package(world)
    rule = automatic_body(package)["specificAllowedTargets"]
    refused(callers.writer, "patch", f"{POLICIES}/{requested.pk}",
            {"specificAllowedTargets": rule,
             "automaticRequestSettings": {"requestAccessForAllowedTargets": True}},
            "automaticRequestSettings: ", "stays automatic, or requested")
    refused(callers.writer, "patch", f"{POLICIES}/{requested.pk}",
            {"automaticRequestSettings": {}}, "automaticRequestSettings: ", "stays automatic")
    refused(callers.writer, "patch", f"{POLICIES}/{automatic.pk}",
            {"automaticRequestSettings": None},
            "automaticRequestSettings: ", "stays automatic, or requested")
    refused(callers.writer, "patch", f"{POLICIES}/{automatic.pk}",
            {"automaticRequestSettings": None, "specificAllowedTargets": [],
             "allowedTargetScope": "allMemberUsers"},
            "automaticRequestSettings: ", "stays automatic, or requested")
    refused(callers.writer, "patch", f"{POLICIES}/{automatic.pk}",
            {"specificAllowedTargets": [{"@odata.type": "#microsoft.graph.singleUser",
                                         "userId": str(world.member.pk)}]},
            "specificAllowedTargets[0]: ", "only one #microsoft.graph.attributeRuleMembers")
    # A read-only token and another catalog's owner are refused as for any policy.
    assert_graph_error(callers.reader.post(POLICIES, automatic_body(package), format="json"),
                       403, "EntitlementManagement.ReadWrite.All")
    assert_graph_error(callers.stranger.patch(f"{POLICIES}/{automatic.pk}",
                                              {"displayName": "Mine"}, format="json"), 404)


# getApplicablePolicyRequirements


def test_requirements_list_the_policies_a_person_may_request_under(world, callers, sales):
    package, people = sales
    saved_automatic(world, package)
    requested = PolicyFactory(access_package=package, display_name="Ask for it",
                              description="Members ask, with a reason",
                              allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
                              is_requestor_justification_required=True,
                              allow_custom_schedule=True)
    question = add_question(requested, "Which region?")
    response = person_client(people["dee"]).post(requirements_url(package))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["@odata.context"].endswith(
        "/$metadata#Collection(microsoft.graph.accessPackageAssignmentRequestRequirements)")
    assert body["value"] == [{
        "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestRequirements",
        "policyId": str(requested.pk),
        "policyDisplayName": "Ask for it",
        "policyDescription": "Members ask, with a reason",
        "isApprovalRequiredForAdd": False,
        "isApprovalRequiredForUpdate": False,
        "isRequestorJustificationRequired": True,
        "allowCustomAssignmentSchedule": True,
        "questions": [{
            "@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
            "id": str(question.pk), "sequence": question.sequence, "isRequired": True,
            "isAnswerEditable": question.is_answer_editable, "text": "Which region?",
            "localizations": [], "isSingleLineQuestion": True, "regexPattern": None}],
        "schedule": {"startDateTime": None, "recurrence": None,
                     "expiration": {"type": "afterDuration", "endDateTime": None,
                                    "duration": "P30D"}},
    }]

    # The world's guest may ask for the world's package under its policy (with approval).
    answer = person_client(world.requester).post(requirements_url(world.package)).json()
    [only] = answer["value"]
    assert (only["policyId"], only["isApprovalRequiredForAdd"]) == (str(world.policy.pk), True)
    assert [q["text"] for q in only["questions"]] == ["Which project code?"]


def test_an_automatic_policy_is_never_a_requirement(world, callers, sales):
    package, people = sales
    policy = saved_automatic(world, package)
    run_queued(policy.pk)
    # Ann holds it through the rule; the catalog's owner reads it: neither may request it.
    for client in (person_client(people["ann"]), callers.owner):
        response = client.post(requirements_url(package))
        assert response.status_code == 200, response.content
        assert response.json()["value"] == []


def test_requirements_refusals(world, callers, sales):
    package, people = sales
    url = requirements_url(package)
    assert_graph_error(callers.anonymous.post(url), 401)
    # An application has no policies to request under (Graph: application not supported).
    for client in (callers.writer, callers.reader):
        assert_graph_error(client.post(url), 403, "person's own (delegated) token",
                           "EntitlementManagement.Read.All",
                           "EntitlementManagement.ReadWrite.All")
    # A package the person may neither request, hold, nor read in a catalog: 404.
    assert_graph_error(callers.stranger.post(url), 404)
    assert_graph_error(person_client(people["dee"]).post(requirements_url(world.package)), 404)
    assert_graph_error(callers.member.post(f"{EM}/accessPackages/nope/"
                                           "getApplicablePolicyRequirements"), 404)
    member = person_client(world.member)
    _open, _policy = open_package(world)
    assert_graph_error(member.post(requirements_url(_open) + "?$top=1"), 400, "$top")
    assert_graph_error(member.post(requirements_url(_open), {"policyId": "1"}, format="json"),
                       400, "no request body")
    assert member.post(requirements_url(_open), {}, format="json").status_code == 200
    # It reads; it writes nothing.
    before = snapshot()
    assert member.post(requirements_url(_open)).status_code == 200
    assert snapshot() == before


def test_the_openapi_document_describes_the_action():
    document = build_document()
    path = (f"{EM}/accessPackages/{{package_id}}/getApplicablePolicyRequirements")
    operation = document["paths"][path]["post"]
    assert set(document["paths"][path]) == {"post"}
    assert operation["operationId"] == "accessPackages.item.getApplicablePolicyRequirements.post"
    assert "requestBody" not in operation
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/microsoft.graph."
                "accessPackageAssignmentRequestRequirementsCollectionResponse"}
    assert not {"201", "202", "204"} & set(operation["responses"])
    schema = document["components"]["schemas"][
        "microsoft.graph.accessPackageAssignmentRequestRequirements"]
    assert {"policyId", "isApprovalRequiredForAdd", "isRequestorJustificationRequired",
            "allowCustomAssignmentSchedule"} <= set(schema["properties"])
