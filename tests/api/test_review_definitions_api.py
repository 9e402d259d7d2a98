"""accessReviews/definitions: package reviews as schedule definitions, their one instance and
its decisions; who reads what."""

from datetime import timedelta

import pytest

from governance import clock
from governance.choices import ReviewDecisionValue
from governance.services.reviews import review_decide
from tests.api.conftest import (
    assert_graph_error,
    assert_refused_three_ways,
    page_cost,
    person_client,
)
from tests.api.sdk import (
    api_client_token,
    assert_graph_v1_properties,
    call,
    graph_service_client,
    person_token,
)
from tests.factories import UserFactory, build_world
from tests.review_helpers import decision_of, holders, review_by_hand, review_team, reviews_on

DEFINITIONS = "/v1.0/identityGovernance/accessReviews/definitions"


def test_a_review_reads_as_a_schedule_definition(world, callers):
    review, _assignments, _colleague = review_team(world)
    body = callers.owner.get(DEFINITIONS).json()
    assert body["@odata.context"].endswith("$metadata#identityGovernance/accessReviews/"
                                           "definitions")
    [definition] = body["value"]
    assert definition["id"] == str(review.pk)
    assert definition["displayName"] == "Review of Falcon wiki"
    assert definition["status"] == "InProgress"
    assert definition["scope"] == {
        "@odata.type": "#microsoft.graph.accessReviewQueryScope",
        "query": "/identityGovernance/entitlementManagement/accessPackageAssignments?$filter="
                 f"(accessPackage/id eq '{review.access_package_id}' and "
                 f"assignmentPolicy/id eq '{review.policy_id}')",
        "queryType": "MicrosoftGraph", "queryRoot": None}
    assert definition["reviewers"] == [
        {"query": "./manager", "queryType": "MicrosoftGraph", "queryRoot": "decisions"},
        {"query": f"/users/{world.owner.pk}", "queryType": "MicrosoftGraph", "queryRoot": None}]
    settings = definition["settings"]
    assert settings["instanceDurationInDays"] == 14
    assert settings["recurrence"]["pattern"] == {"type": "absoluteMonthly", "interval": 3,
                                                 "dayOfMonth": 5}
    assert settings["recurrence"]["range"]["startDate"] == "2026-01-05"
    assert (settings["defaultDecisionEnabled"], settings["defaultDecision"]) == (True,
                                                                                  "Approve")
    assert settings["autoApplyDecisionsEnabled"] is True
    assert definition["createdDateTime"].endswith("Z") and "instances" not in definition


def test_definition_instances_and_query_options(world, callers):
    review, _assignments, _colleague = review_team(world)
    url = f"{DEFINITIONS}/{review.pk}"
    definition = callers.reader.get(url, {"$expand": "instances"}).json()
    assert definition["@odata.context"].endswith("/definitions/$entity")
    [instance] = definition["instances"]
    assert instance["id"] == str(review.pk) and instance["status"] == "InProgress"
    listed = callers.reader.get(f"{url}/instances").json()["value"]
    assert [i["id"] for i in listed] == [str(review.pk)]
    assert listed[0]["startDateTime"].endswith("Z") and listed[0]["endDateTime"]
    one = callers.reader.get(f"{url}/instances/{review.pk}").json()
    assert one["endDateTime"] == instance["endDateTime"]
    assert_graph_error(callers.reader.get(f"{url}/instances/{review.pk + 1}"), 404)
    assert_graph_error(callers.reader.get(f"{url}/instances/x"), 404)
    done = callers.reader.get(DEFINITIONS, {"$filter": "status eq 'Completed'"}).json()
    assert done["value"] == []
    assert_graph_error(callers.reader.get(DEFINITIONS, {"$filter": "status eq 'Done'"}), 400,
                       "Done")
    selected = callers.reader.get(DEFINITIONS, {"$select": "status", "$count": "true"}).json()
    assert selected["@odata.count"] == 1
    assert selected["value"] == [{"id": str(review.pk), "status": "InProgress"}]


def test_decisions_read_by_catalog_readers_and_by_their_reviewers(world, callers):
    review, assignments, colleague = review_team(world)
    decision = decision_of(review, world.requester)
    review_decide(reviewer=world.approver, decision_id=decision.pk,
                  decision=ReviewDecisionValue.DENY, justification="Left the project")
    url = f"{DEFINITIONS}/{review.pk}/instances/{review.pk}/decisions"
    everything = callers.owner.get(url).json()
    assert everything["@odata.context"].endswith(
        f"definitions('{review.pk}')/instances('{review.pk}')/decisions")
    assert len(everything["value"]) == 4
    denied = callers.owner.get(url, {"$filter": "decision eq 'Deny'"}).json()["value"]
    [item] = denied
    assert item["id"] == str(decision.pk) and item["accessReviewId"] == str(review.pk)
    assert item["justification"] == "Left the project"
    assert item["principal"] == {"@odata.type": "#microsoft.graph.userIdentity",
                                 "id": str(world.requester.pk), "displayName": "Requester",
                                 "userPrincipalName": "requester@contoso.example"}
    assert item["reviewedBy"]["id"] == str(world.approver.pk)
    assert item["reviewedDateTime"].endswith("Z")
    assert item["recommendation"] == "Deny" and item["applyResult"] == "New"
    assert item["principalLink"] == f"http://testserver/v1.0/users/{world.requester.pk}"
    assert item["resource"]["type"] == "accessPackage"
    inactive = callers.owner.get(url, {"$filter": "recommendation eq 'NoInfoAvailable'"})
    assert len(inactive.json()["value"]) == 2
    # The approver reviews three people (not the owner) without any catalog role.
    approver = person_client(world.approver)
    mine = approver.get(url).json()["value"]
    assert {d["principal"]["id"] for d in mine} == {
        str(world.requester.pk), str(world.member.pk), str(colleague.pk)}
    assert_graph_error(approver.get(f"{DEFINITIONS}/{review.pk}"), 404)
    owner_decision = decision_of(review, world.owner)
    assert approver.get(f"{url}/{decision.pk}").json()["decision"] == "Deny"
    assert_graph_error(approver.get(f"{url}/{owner_decision.pk}"), 404)
    assert callers.owner.get(f"{url}/{owner_decision.pk}").status_code == 200
    # A person under review who reviews nobody reads nothing.
    assert_graph_error(callers.member.get(url), 404)


def test_pages_cost_the_same_queries_for_2_and_20(world, callers):
    people = [UserFactory(email=f"holder{n}@access.example") for n in range(20)]
    _package, policy, assignments = holders(world, people)
    reviews_on(policy)
    held = list(assignments.values())
    small = review_by_hand(policy, held[:2], whole_review=[world.approver])
    large = review_by_hand(policy, held, start_at=clock.now() - timedelta(days=1),
                           whole_review=[world.approver])
    approver = person_client(world.approver)
    for client in (callers.reader, approver):
        counts = [page_cost(client, f"{DEFINITIONS}/{r.pk}/instances/{r.pk}/decisions")
                  for r in (small, large)]
        assert [shown for _n, shown in counts] == [2, 20]
        assert counts[0][0] == counts[1][0]
    two = page_cost(callers.reader, DEFINITIONS)
    for n in range(18):
        review_by_hand(policy, held[:1], start_at=clock.now() - timedelta(days=2 + n))
    twenty = page_cost(callers.reader, DEFINITIONS)
    assert (two[1], twenty[1]) == (2, 20) and two[0] == twenty[0]


def test_permissions(world, callers):
    review, _assignments, _colleague = review_team(world)
    urls = [DEFINITIONS, f"{DEFINITIONS}/{review.pk}", f"{DEFINITIONS}/{review.pk}/instances",
            f"{DEFINITIONS}/{review.pk}/instances/{review.pk}",
            f"{DEFINITIONS}/{review.pk}/instances/{review.pk}/decisions"]
    for url in urls:
        assert callers.reader.get(url).status_code == 200
        assert_graph_error(callers.anonymous.get(url), 401)
    assert callers.stranger.get(DEFINITIONS).json()["value"] == []
    for url in urls[1:]:
        assert_refused_three_ways(callers, "get", url)
    # Read only: writes are refused, by permission first, then as a method Graph lacks here.
    assert_graph_error(callers.reader.post(DEFINITIONS, {}, format="json"), 403)
    assert callers.writer.post(DEFINITIONS, {}, format="json").status_code == 405
    assert callers.writer.delete(urls[1]).status_code == 405
    assert_graph_error(callers.writer.get(f"{DEFINITIONS}/abc"), 404)


def test_reviewers_find_their_reviews_and_decisions(world, callers):
    review, _assignments, colleague = review_team(world)
    approver = person_client(world.approver)
    mine = approver.get(f"{DEFINITIONS}/filterByCurrentUser(on='reviewer')").json()
    assert [d["id"] for d in mine["value"]] == [str(review.pk)]
    url = f"{DEFINITIONS}/{review.pk}/instances/{review.pk}/decisions"
    decisions = approver.get(f"{url}/filterByCurrentUser(on='reviewer')").json()["value"]
    assert {d["principal"]["id"] for d in decisions} == {
        str(world.requester.pk), str(world.member.pk), str(colleague.pk)}
    # The owner reviews the whole review, but never their own access.
    owners = callers.owner.get(f"{url}/filterByCurrentUser(on='reviewer')").json()["value"]
    assert len(owners) == 3 and str(world.owner.pk) not in {d["principal"]["id"]
                                                            for d in owners}
    assert callers.member.get(f"{DEFINITIONS}/filterByCurrentUser(on='reviewer')").json()[
        "value"] == []
    assert callers.member.get(f"{url}/filterByCurrentUser(on='reviewer')").json()[
        "value"] == []
    assert_graph_error(approver.get(f"{DEFINITIONS}/filterByCurrentUser(on='owner')"), 400,
                       "reviewer")
    assert_graph_error(callers.reader.get(f"{DEFINITIONS}/filterByCurrentUser(on='reviewer')"),
                       400, "person")
    assert_graph_error(callers.anonymous.get(f"{url}/filterByCurrentUser(on='reviewer')"), 401)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_microsofts_sdk_reads_reviews_and_decisions(live_server):
    world = build_world()
    review, _assignments, _colleague = review_team(world)
    _principal, token = api_client_token("SDK reviews", write=False)
    admin = graph_service_client(live_server.url, token)
    definitions = admin.identity_governance.access_reviews.definitions
    listed = call(admin, definitions.get(), "GET definitions")
    [definition] = listed.value
    assert definition.id == str(review.pk) and definition.status == "InProgress"
    assert definition.settings.instance_duration_in_days == 14
    assert definition.scope.query.startswith("/identityGovernance/entitlementManagement/")
    item = definitions.by_access_review_schedule_definition_id(str(review.pk))
    assert call(admin, item.get(), "GET definition").display_name == "Review of Falcon wiki"
    [instance] = call(admin, item.instances.get(), "GET instances").value
    assert instance.start_date_time < instance.end_date_time
    decisions = item.instances.by_access_review_instance_id(str(review.pk)).decisions
    everything = call(admin, decisions.get(), "GET decisions").value
    assert len(everything) == 4 and {d.decision for d in everything} == {"NotReviewed"}
    assert {d.principal.display_name for d in everything} >= {"Requester", "Colleague"}
    approver = graph_service_client(live_server.url, person_token(world.approver))
    theirs = approver.identity_governance.access_reviews.definitions
    mine = call(approver, theirs.filter_by_current_user_with_on("reviewer").get(),
                "GET definitions/filterByCurrentUser")
    assert [d.id for d in mine.value] == [str(review.pk)]
    own = theirs.by_access_review_schedule_definition_id(str(review.pk)).instances \
        .by_access_review_instance_id(str(review.pk)).decisions \
        .filter_by_current_user_with_on("reviewer")
    assert len(call(approver, own.get(), "GET decisions/filterByCurrentUser").value) == 3
    assert_graph_v1_properties(admin, approver)
