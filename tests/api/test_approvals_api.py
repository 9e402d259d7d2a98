"""accessPackageAssignmentApprovals: the caller's pending approvals, an approval and its
stages, and deciding a stage with PATCH; what each caller may see and do."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.choices import RequestState
from governance.models import ApprovalDecision
from governance.services.requests import request_submit
from tests.api.conftest import EM, assert_graph_error, assert_refused_three_ways, person_client
from tests.factories import UserFactory, member_package, snapshot, submit_request

APPROVALS = f"{EM}/accessPackageAssignmentApprovals"
MINE = f"{APPROVALS}/filterByCurrentUser(on='approver')"


def stage_url(request, order):
    stage = request.stages.get(order=order)
    return f"{APPROVALS}/{request.pk}/stages/{stage.pk}"


def test_two_stage_approval_through_the_stages_endpoint(world):
    request = submit_request(world)
    approver, second = person_client(world.approver), person_client(world.second_approver)
    [approval] = approver.get(MINE).json()["value"]
    assert approval["id"] == str(request.pk)
    first, waiting = approval["stages"]
    assert (first["status"], first["reviewResult"], first["assignedToMe"]) == (
        "InProgress", "NotReviewed", True)
    assert (waiting["status"], waiting["assignedToMe"]) == ("NotStarted", False)
    assert second.get(MINE).json()["value"] == []

    response = approver.patch(stage_url(request, 1), {"reviewResult": "Approve",
                                                      "justification": "Known partner"},
                              format="json")
    assert response.status_code == 204, response.content
    assert approver.get(MINE).json()["value"] == []
    [approval] = second.get(MINE).json()["value"]
    assert [stage["assignedToMe"] for stage in approval["stages"]] == [False, True]
    # The second approver sees the approval now, but stage 1 was never theirs to decide.
    assert_graph_error(second.patch(stage_url(request, 1), {"reviewResult": "Deny"},
                                    format="json"), 403, "approver")

    assert second.patch(stage_url(request, 2), {"reviewResult": "Approve"},
                        format="json").status_code == 204
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERING
    body = approver.get(f"{APPROVALS}/{request.pk}").json()
    assert body["@odata.context"].endswith("/accessPackageAssignmentApprovals/$entity")
    first, last = body["stages"]
    assert (first["reviewResult"], first["status"], first["justification"]) == (
        "Approved", "Completed", "Known partner")
    assert first["reviewedBy"] == {"id": str(world.approver.pk), "displayName": "Approver"}
    assert first["reviewedDateTime"].endswith("Z")
    assert last["reviewedBy"]["id"] == str(world.second_approver.pk)


def test_a_late_second_decision_is_a_409(world):
    package = member_package(world, approvers=[world.approver, world.second_approver])
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    url = stage_url(request, 1)
    assert person_client(world.approver).patch(url, {"reviewResult": "Deny"},
                                               format="json").status_code == 204
    late = person_client(world.second_approver).patch(url, {"reviewResult": "Approve"},
                                                      format="json")
    assert_graph_error(late, 409, "already denied")
    request.refresh_from_db()
    assert request.state == RequestState.DENIED
    assert ApprovalDecision.objects.count() == 1


def test_justification_required_and_bad_bodies(world):
    package = member_package(world, justification_required=True)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    url = stage_url(request, 1)
    client = person_client(world.approver)
    before = snapshot()
    for body, words in (({"reviewResult": "Deny"}, ("justification",)),
                        ({"reviewResult": "Maybe", "justification": "x"}, ("reviewResult",
                                                                           "Approve")),
                        ({"justification": "x"}, ("reviewResult",)),
                        ({"reviewResult": "Deny", "justification": "x", "colour": 1},
                         ("colour",)),
                        ({"reviewResult": "Deny", "justification": 3}, ("justification",))):
        assert_graph_error(client.patch(url, body, format="json"), 400, *words)
    response = client.generic("PATCH", url, "[", content_type="application/json")
    assert_graph_error(response, 400, "JSON")
    assert snapshot() == before
    assert client.patch(url, {"reviewResult": "Deny", "justification": "Not in finance"},
                        format="json").status_code == 204
    request.refresh_from_db()
    assert request.state == RequestState.DENIED


def test_permissions(world, callers):
    request = submit_request(world)
    url = stage_url(request, 1)
    decision = {"reviewResult": "Approve"}
    nobody = person_client(UserFactory(email="nobody@access.example"))
    requester = person_client(world.requester)
    second = person_client(world.second_approver)
    for read in (f"{APPROVALS}/{request.pk}", f"{APPROVALS}/{request.pk}/stages", url):
        assert callers.reader.get(read).status_code == 200
        assert callers.owner.get(read).status_code == 200
        assert_refused_three_ways(callers, "get", read)
        assert_graph_error(nobody.get(read), 404)
        assert_graph_error(requester.get(read), 404)
    before = snapshot()
    assert_refused_three_ways(callers, "patch", url, decision)
    assert_graph_error(nobody.patch(url, decision, format="json"), 404)
    # Those who may see it but are not its approvers.
    assert_graph_error(callers.owner.patch(url, decision, format="json"), 403, "approver")
    assert_graph_error(callers.writer.patch(url, decision, format="json"), 403, "approver")
    # The second stage's approver is not one yet: stage 2 names its approvers when it starts.
    assert_graph_error(second.patch(url, decision, format="json"), 404)
    assert snapshot() == before
    assert nobody.get(MINE).json()["value"] == []
    assert_graph_error(callers.writer.get(MINE), 400, "person")
    assert_graph_error(callers.anonymous.get(MINE), 401)


def test_stages_and_unknown_ids(world, callers):
    request = submit_request(world)
    stages = callers.reader.get(f"{APPROVALS}/{request.pk}/stages").json()
    assert stages["@odata.context"].endswith(f"/accessPackageAssignmentApprovals/{request.pk}"
                                             "/stages")
    assert [stage["displayName"] for stage in stages["value"]] == ["Stage 1", "Stage 2"]
    one = callers.reader.get(stage_url(request, 2)).json()
    assert one["displayName"] == "Stage 2" and one["assignedToMe"] is False
    assert one["@odata.context"].endswith("/stages/$entity")
    other = request_submit(requestor=world.member,
                           access_package_id=member_package(world).pk)
    foreign_stage = other.stages.get().pk
    assert_graph_error(callers.reader.get(f"{APPROVALS}/{request.pk}/stages/{foreign_stage}"),
                       404)
    assert_graph_error(callers.reader.get(f"{APPROVALS}/abc"), 404)
    assert_graph_error(callers.reader.get(f"{APPROVALS}/{request.pk}/stages/abc"), 404)


def test_a_page_of_approvals_costs_the_same_queries_for_2_and_20(world):
    package = member_package(world)
    client = person_client(world.approver)

    def add(count):
        for _ in range(count):
            request_submit(requestor=UserFactory(), access_package_id=package.pk)

    def page_queries():
        with CaptureQueriesContext(connection) as queries:
            body = client.get(MINE, {"$orderby": "id desc"}).json()
        assert all(approval["stages"][0]["assignedToMe"] for approval in body["value"])
        return len(queries), len(body["value"])

    add(2)
    client.get(MINE)  # the token's first use records it, once
    few, shown = page_queries()
    assert shown == 2
    add(18)
    many, shown = page_queries()
    assert shown == 20 and many == few
