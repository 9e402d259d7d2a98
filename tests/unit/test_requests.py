from datetime import timedelta

import pytest
import time_machine

from governance import clock
from governance.choices import (
    AllowedTargetScope,
    AssignmentState,
    ConnectedOrganizationState,
    Decision,
    DeliveryAction,
    DeliveryState,
    EndReason,
    RequestState,
    RequestType,
    StageState,
)
from governance.models import AuditEvent, GroupMembership, OutboxMessage, RequestAnswer
from governance.services.approvals import stage_decide
from governance.services.delivery import deliveries_process
from governance.services.errors import (
    InvalidState,
    OutOfScope,
)
from governance.services.requests import (
    request_admin_add,
    request_cancel,
    request_extend,
    request_remove,
    request_submit,
)
from tests.factories import (
    GuestFactory,
    UserFactory,
    approve_all,
    delivered_assignment,
    open_package,
    submit_request,
)


def test_submit_for_oneself_starts_the_first_stage(world):
    request = submit_request(world)
    assert (request.request_type, request.state) == (RequestType.USER_ADD,
                                                      RequestState.PENDING_APPROVAL)
    assert request.status == "Pending approval, stage 1 of 2"
    stage1, stage2 = request.stages.order_by("order")
    assert stage1.state == StageState.IN_PROGRESS
    assert list(stage1.approvers.all()) == [world.approver]
    assert stage2.state == StageState.NOT_STARTED
    answer = RequestAnswer.objects.get(request=request)
    assert (answer.question, answer.value) == (world.question, "FAL-2026")
    assert AuditEvent.objects.filter(action="request.submitted", object_id=str(request.pk),
                                     actor=world.requester).exists()
    assert OutboxMessage.objects.filter(topic="approval_needed",
                                        recipient=world.approver).count() == 1


def test_submit_without_approval_creates_the_assignment_at_once(world):
    package, policy = open_package(world)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    assert request.state == RequestState.DELIVERING
    assert request.assignment.state == AssignmentState.DELIVERING
    assert request.assignment.policy == policy
    assert request.assignment.expires_at == request.assignment.start_at + timedelta(days=30)
    assert request.stages.count() == 0
    deliveries_process()
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERED


def test_submit_from_unknown_domain_under_any_external_user_proposes_an_organization(world):
    package, _ = open_package(world, allowed_target_scope=AllowedTargetScope.ALL_EXTERNAL_USERS)
    stranger = GuestFactory(email="someone@northwind.example")
    request = request_submit(requestor=stranger, access_package_id=package.pk)
    stranger.refresh_from_db()
    assert request.state == RequestState.DELIVERING
    assert stranger.connected_organization.state == ConnectedOrganizationState.PROPOSED
    assert stranger.connected_organization.identity_sources.get().domain_name == \
        "northwind.example"


def test_manager_requests_on_behalf_of_a_direct_report(world):
    package, _ = open_package(world, allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
                               enable_on_behalf_of_direct_reports=True)
    report = UserFactory(email="report@access.example", manager=world.member)
    request = request_submit(requestor=world.member, target=report, access_package_id=package.pk)
    assert request.request_type == RequestType.ON_BEHALF_ADD
    assert (request.requestor, request.target) == (world.member, report)
    assert request.assignment.target == report


def test_on_behalf_request_for_someone_not_reporting_to_you_is_refused(world, assert_refused):
    package, _ = open_package(world, allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
                               enable_on_behalf_of_direct_reports=True)
    assert_refused(lambda: request_submit(requestor=world.member, target=world.approver,
                                          access_package_id=package.pk),
                   OutOfScope, "outOfScope", "direct reports")


def test_admin_add_assigns_directly_without_approval(world):
    request = request_admin_add(actor=world.owner, access_package_id=world.package.pk,
                                policy_id=world.policy.pk, target=world.outsider)
    assert (request.request_type, request.state) == (RequestType.ADMIN_ADD,
                                                     RequestState.DELIVERING)
    assert request.stages.count() == 0
    deliveries_process()
    assert GroupMembership.objects.filter(user=world.outsider).count() == 2


def test_extend_without_approval_moves_the_expiry(world):
    assignment = delivered_assignment(world)
    with time_machine.travel(assignment.expires_at - timedelta(days=5), tick=False):
        request = request_extend(requestor=world.requester, assignment_id=assignment.pk,
                                 justification="Project runs longer",
                                 answers={world.question.pk: "FAL-2026"})
        expected = clock.now() + timedelta(days=30)
    assignment.refresh_from_db()
    assert (request.request_type, request.state) == (RequestType.USER_UPDATE,
                                                     RequestState.DELIVERED)
    assert assignment.expires_at == expected
    assert AuditEvent.objects.filter(action="assignment.extended").count() == 1


def test_extend_goes_through_approval_when_the_policy_asks(world):
    assignment = delivered_assignment(world)
    world.policy.is_approval_required_for_update = True
    world.policy.save()
    before = assignment.expires_at
    request = request_extend(requestor=world.requester, assignment_id=assignment.pk,
                             justification="Longer", answers={world.question.pk: "FAL-2026"})
    assert request.state == RequestState.PENDING_APPROVAL
    assignment.refresh_from_db()
    assert assignment.expires_at == before
    with time_machine.travel(before - timedelta(days=2), tick=False):
        approve_all(request, world.approver, world.second_approver)
        expected = clock.now() + timedelta(days=30)
    assignment.refresh_from_db()
    assert request.state == RequestState.DELIVERED
    assert assignment.expires_at == expected


def test_user_removes_own_access(world):
    assignment = delivered_assignment(world)
    request = request_remove(actor=world.requester, assignment_id=assignment.pk)
    assignment.refresh_from_db()
    assert (request.request_type, request.state) == (RequestType.USER_REMOVE,
                                                     RequestState.DELIVERED)
    assert (assignment.state, assignment.end_reason) == (AssignmentState.EXPIRED,
                                                         EndReason.REMOVED_BY_USER)
    # The portal's own groups are left in the same transaction: no worker is needed.
    assert set(assignment.deliveries.values_list("action", "state", "attempts")) == {
        (DeliveryAction.REVOKE, DeliveryState.DONE, 1)}
    assert not GroupMembership.objects.filter(user=world.requester).exists()
    assert deliveries_process() == 0


def test_admin_removes_access(world):
    assignment = delivered_assignment(world)
    request = request_remove(actor=world.owner, assignment_id=assignment.pk, as_admin=True)
    assignment.refresh_from_db()
    assert request.request_type == RequestType.ADMIN_REMOVE
    assert assignment.end_reason == EndReason.REMOVED_BY_ADMIN
    assert AuditEvent.objects.filter(action="assignment.removed", actor=world.owner).exists()


def test_cancel_a_pending_request(world):
    request = submit_request(world)
    canceled = request_cancel(actor=world.requester, request_id=request.pk)
    assert canceled.state == RequestState.CANCELED
    assert list(request.stages.order_by("order").values_list("state", flat=True)) == [
        StageState.SKIPPED, StageState.NOT_STARTED]
    assert AuditEvent.objects.filter(action="request.canceled").count() == 1
    # Canceled is final: a new request may be made.
    assert submit_request(world).state == RequestState.PENDING_APPROVAL




def test_admin_removes_access_still_being_delivered_and_it_can_be_requested_again(world):
    added = request_admin_add(actor=world.owner, access_package_id=world.package.pk,
                              policy_id=world.policy.pk, target=world.requester)
    removal = request_remove(actor=world.owner, assignment_id=added.assignment.pk,
                             as_admin=True)
    added.refresh_from_db()
    assert removal.state == RequestState.DELIVERED
    assert (added.state, added.status) == (RequestState.DELIVERY_FAILED,
                                           "Access ended before delivery finished")
    assert submit_request(world).state == RequestState.PENDING_APPROVAL


def test_removing_access_cancels_the_extension_waiting_for_approval(world):
    assignment = delivered_assignment(world)
    world.policy.is_approval_required_for_update = True
    world.policy.save()
    extension = request_extend(requestor=world.requester, assignment_id=assignment.pk,
                               justification="Longer", answers={world.question.pk: "FAL-2026"})
    request_remove(actor=world.requester, assignment_id=assignment.pk)
    extension.refresh_from_db()
    assert (extension.state, extension.status) == (
        RequestState.CANCELED, "Access ended before the extension was decided")
    assert set(extension.stages.values_list("state", flat=True)) == {"skipped", "notStarted"}
    stage = extension.stages.get(order=1)
    with pytest.raises(InvalidState):
        stage_decide(stage_id=stage.pk, approver=world.approver, decision=Decision.APPROVE)
    # Nothing is left open, so the package can be requested again at once.
    assert submit_request(world).state == RequestState.PENDING_APPROVAL
