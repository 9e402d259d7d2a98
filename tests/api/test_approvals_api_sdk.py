"""Requests, approvals and assignments through Microsoft's Python SDK against the live server:
a guest asks with answers, finds the request through filterByCurrentUser, two approvers decide
through the stages (a late decision is a 409), an administrator reads the assignment, and
reprocesses it; a member cancels their own request. Every answer keeps to Graph v1.0."""

import pytest
from msgraph.generated.models.access_package_answer_string import AccessPackageAnswerString
from msgraph.generated.models.access_package_assignment import AccessPackageAssignment
from msgraph.generated.models.access_package_assignment_request import (
    AccessPackageAssignmentRequest,
)
from msgraph.generated.models.access_package_assignment_state import AccessPackageAssignmentState
from msgraph.generated.models.access_package_request_state import AccessPackageRequestState
from msgraph.generated.models.access_package_request_type import AccessPackageRequestType
from msgraph.generated.models.access_package_text_input_question import (
    AccessPackageTextInputQuestion,
)
from msgraph.generated.models.approval_stage import ApprovalStage
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from governance.choices import RequestState
from governance.models import AssignmentRequest
from tests.api.sdk import (
    SDK_TEST_MARKS,
    AssignmentsRequestBuilder,
    api_client_token,
    assert_graph_v1_properties,
    call,
    graph_service_client,
    person_token,
    query,
    run,
)
from tests.factories import build_world, member_package

pytestmark = SDK_TEST_MARKS



def decide(client, request_id: str, result: str) -> str:
    approvals = client.identity_governance.entitlement_management \
        .access_package_assignment_approvals
    mine = call(client, approvals.filter_by_current_user_with_on("approver").get(),
                "GET approvals/filterByCurrentUser(on='approver')")
    assert [approval.id for approval in mine.value] == [request_id], client.recorder.last()
    stages = call(client, approvals.by_approval_id(request_id).stages.get(), "GET stages")
    stage = next(s for s in stages.value if s.assigned_to_me)
    assert (stage.review_result, stage.status) == ("NotReviewed", "InProgress")
    call(client, approvals.by_approval_id(request_id).stages.by_approval_stage_id(stage.id)
         .patch(ApprovalStage(review_result=result, justification="Checked")), "PATCH stage")
    return stage.id


def test_requests_approvals_and_assignments_through_the_sdk(live_server):
    world = build_world()
    own = graph_service_client(live_server.url, person_token(world.requester))
    em = own.identity_governance.entitlement_management
    answer = AccessPackageAnswerString(
        value="FAL-2026", answered_question=AccessPackageTextInputQuestion(
            id=str(world.question.pk)))
    request = call(own, em.assignment_requests.post(AccessPackageAssignmentRequest(
        request_type=AccessPackageRequestType.UserAdd, justification="Joining Falcon",
        answers=[answer],
        assignment=AccessPackageAssignment(additional_data={
            "access_package_id": str(world.package.pk),
            "assignment_policy_id": str(world.policy.pk)}))), "POST userAdd")
    assert request.state == AccessPackageRequestState.PendingApproval
    assert request.answers[0].value == "FAL-2026"
    assert request.answers[0].answered_question.id == str(world.question.pk)
    assert request.requestor.object_id == str(world.requester.pk)
    mine = call(own, em.assignment_requests.filter_by_current_user_with_on("target").get(),
                "GET assignmentRequests/filterByCurrentUser(on='target')")
    assert [item.id for item in mine.value] == [request.id]

    first = graph_service_client(live_server.url, person_token(world.approver))
    stage_id = decide(first, request.id, "Approve")
    late = (first.identity_governance.entitlement_management.access_package_assignment_approvals
            .by_approval_id(request.id).stages.by_approval_stage_id(stage_id))
    with pytest.raises(ODataError) as refused:
        run(late.patch(ApprovalStage(review_result="Deny", justification="Too late")))
    assert refused.value.response_status_code == 409
    second = graph_service_client(live_server.url, person_token(world.second_approver))
    decide(second, request.id, "Approve")

    _principal, token = api_client_token("Administrator")
    admin = graph_service_client(live_server.url, token)
    admin_em = admin.identity_governance.entitlement_management
    read = call(admin, admin_em.assignment_requests.by_access_package_assignment_request_id(
        request.id).get(), "GET assignmentRequests/{id}")
    assert read.state in (AccessPackageRequestState.Delivering,
                          AccessPackageRequestState.Delivered)
    found = call(admin, admin_em.assignments.get(request_configuration=query(
        AssignmentsRequestBuilder, "AssignmentsRequestBuilder",
        filter=f"target/objectId eq '{world.requester.pk}'",
        expand=["target", "accessPackage", "assignmentPolicy"])), "GET assignments")
    [assignment] = found.value
    assert assignment.state in (AccessPackageAssignmentState.Delivering,
                                AccessPackageAssignmentState.Delivered)
    assert assignment.target.email == "requester@contoso.example"
    assert assignment.assignment_policy.id == str(world.policy.pk)
    assert assignment.schedule.expiration.end_date_time is not None
    by_id = admin_em.assignments.by_access_package_assignment_id(assignment.id)
    policy = call(admin, by_id.assignment_policy.get(), "GET assignments/{id}/assignmentPolicy")
    assert policy.display_name == "Contoso partners"
    links = admin_em.assignment_requests.by_access_package_assignment_request_id(request.id)
    assert call(admin, links.access_package.get(), "GET …/accessPackage").id == str(
        world.package.pk)
    assert call(admin, links.assignment.get(), "GET …/assignment").id == assignment.id
    assert call(admin, links.requestor.get(), "GET …/requestor").email == (
        "requester@contoso.example")
    run(by_id.reprocess.post())
    run(admin_em.assignment_requests.by_access_package_assignment_request_id(request.id)
        .reprocess.post())

    package = member_package(world)
    member = graph_service_client(live_server.url, person_token(world.member))
    asked = call(member, member.identity_governance.entitlement_management.assignment_requests
                 .post(AccessPackageAssignmentRequest(
                     request_type=AccessPackageRequestType.UserAdd,
                     assignment=AccessPackageAssignment(additional_data={
                         "accessPackageId": str(package.pk)}))), "POST userAdd (member)")
    run(member.identity_governance.entitlement_management.assignment_requests
        .by_access_package_assignment_request_id(asked.id).cancel.post())
    assert AssignmentRequest.objects.get(pk=asked.id).state == RequestState.CANCELED

    assert_graph_v1_properties(own, first, second, admin, member)
