from datetime import timedelta

import time_machine

from governance.choices import (
    ApproverKind,
    AssignmentState,
    Decision,
    RequestState,
    StageState,
    SubjectSetType,
)
from governance.models import ApprovalDecision, AuditEvent, OutboxMessage, StageApprover
from governance.services.approvals import stage_decide, stages_escalate_due, stages_time_out_due
from governance.services.errors import InvalidInput, InvalidState, NotAllowed, NotFound
from governance.services.requests import request_cancel, request_submit
from tests.factories import UserFactory, member_package


def _submit(world):
    return request_submit(requestor=world.requester, access_package_id=world.package.pk,
                          justification="Joining the Falcon project",
                          answers={world.question.pk: "FAL-2026"})


def _stage(request, order=1):
    return request.stages.get(order=order)


# Allowed transitions


def test_approving_stage_one_starts_stage_two(world):
    request = _submit(world)
    stage_decide(stage_id=_stage(request).pk, approver=world.approver, decision=Decision.APPROVE,
                 justification="Known partner")
    request.refresh_from_db()
    stage1, stage2 = request.stages.order_by("order")
    assert request.state == RequestState.PENDING_APPROVAL
    assert request.status == "Pending approval, stage 2 of 2"
    assert stage1.state == StageState.APPROVED
    assert stage1.decision.approver == world.approver
    assert stage1.decision.justification == "Known partner"
    assert stage2.state == StageState.IN_PROGRESS
    assert list(stage2.approvers.all()) == [world.second_approver]
    assert OutboxMessage.objects.filter(topic="approval_needed",
                                        recipient=world.second_approver).count() == 1
    assert AuditEvent.objects.filter(action="stage.approved", actor=world.approver).count() == 1


def test_approving_the_last_stage_starts_delivery(world):
    request = _submit(world)
    stage_decide(stage_id=_stage(request).pk, approver=world.approver, decision=Decision.APPROVE)
    stage_decide(stage_id=_stage(request, 2).pk, approver=world.second_approver,
                 decision=Decision.APPROVE)
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERING
    assert request.assignment.state == AssignmentState.DELIVERING
    assert AuditEvent.objects.filter(action="request.approved").count() == 1
    assert OutboxMessage.objects.filter(topic="request_approved",
                                        recipient=world.requester).count() == 1


def test_deny_ends_the_request(world):
    request = _submit(world)
    stage_decide(stage_id=_stage(request).pk, approver=world.approver, decision=Decision.DENY,
                 justification="Not on the project")
    request.refresh_from_db()
    assert (request.state, request.status) == (RequestState.DENIED, "Denied")
    assert request.completed_at is not None
    assert [s.state for s in request.stages.order_by("order")] == [StageState.DENIED,
                                                                   StageState.NOT_STARTED]
    assert request.assignment is None
    assert OutboxMessage.objects.filter(topic="request_denied",
                                        recipient=world.requester).count() == 1


def test_justification_given_when_required_is_accepted(world):
    package = member_package(world, justification_required=True)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    stage_decide(stage_id=_stage(request).pk, approver=world.approver, decision=Decision.APPROVE,
                 justification="Finance team")
    assert ApprovalDecision.objects.get().justification == "Finance team"


def test_manager_approves_when_the_policy_names_the_requestors_manager(world):
    manager = UserFactory(email="manager@access.example")
    world.member.manager = manager
    world.member.save()
    fallback = UserFactory(email="fallback@access.example")
    package = member_package(world, approvers=[], fallback=[fallback],
                              approver_type=SubjectSetType.REQUESTOR_MANAGER)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    assert list(StageApprover.objects.filter(stage__request=request)
                .values_list("user__email", "kind")) == [(manager.email, ApproverKind.PRIMARY)]


def test_fallback_approvers_decide_when_the_manager_does_not_exist(world):
    fallback = UserFactory(email="fallback@access.example")
    package = member_package(world, approvers=[], fallback=[fallback],
                              approver_type=SubjectSetType.REQUESTOR_MANAGER)
    assert world.member.manager is None
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    assert list(StageApprover.objects.filter(stage__request=request)
                .values_list("user__email", "kind")) == [(fallback.email, ApproverKind.FALLBACK)]
    stage_decide(stage_id=_stage(request).pk, approver=fallback, decision=Decision.APPROVE)
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERING


def test_fallback_approvers_decide_when_the_guest_has_no_sponsor(world):
    fallback = UserFactory(email="fallback@access.example")
    world.policy.stages.get(order=1).approver_sets.all().delete()
    stage = world.policy.stages.get(order=1)
    stage.approver_sets.create(kind=ApproverKind.PRIMARY,
                               subject_type=SubjectSetType.TARGET_USER_SPONSORS)
    stage.approver_sets.create(kind=ApproverKind.FALLBACK,
                               subject_type=SubjectSetType.SINGLE_USER, user=fallback)
    request = _submit(world)
    assert list(_stage(request).approvers.all()) == [fallback]


def test_the_requestor_is_never_an_approver_of_their_own_request(world):
    package = member_package(world, approvers=[world.member, world.approver])
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    assert list(_stage(request).approvers.all()) == [world.approver]


def test_escalation_adds_the_escalation_approvers_once(world):
    alternate = UserFactory(email="alternate@access.example")
    package = member_package(world, escalation=[alternate], escalate_after_days=3)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    stage = _stage(request)
    with time_machine.travel(stage.started_at + timedelta(days=2), tick=False):
        assert stages_escalate_due() == 0
    with time_machine.travel(stage.started_at + timedelta(days=3, minutes=1), tick=False):
        assert stages_escalate_due() == 1
        assert stages_escalate_due() == 0
    stage.refresh_from_db()
    assert stage.is_escalated
    assert set(stage.stage_approvers.values_list("user__email", "kind")) == {
        (world.approver.email, ApproverKind.PRIMARY),
        (alternate.email, ApproverKind.ESCALATION)}
    assert OutboxMessage.objects.filter(topic="approval_escalated").count() == 1
    assert AuditEvent.objects.filter(action="stage.escalated").count() == 1
    # The escalation approver may now decide; the primary approver could have, too.
    stage_decide(stage_id=stage.pk, approver=alternate, decision=Decision.APPROVE)
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERING


def test_primary_approvers_can_still_decide_after_escalation(world):
    alternate = UserFactory(email="alternate@access.example")
    package = member_package(world, escalation=[alternate], escalate_after_days=3)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    with time_machine.travel(_stage(request).started_at + timedelta(days=4), tick=False):
        stages_escalate_due()
        stage_decide(stage_id=_stage(request).pk, approver=world.approver,
                     decision=Decision.DENY)
    request.refresh_from_db()
    assert request.state == RequestState.DENIED


def test_stage_past_its_deadline_times_out_and_denies_the_request(world):
    request = _submit(world)
    stage = _stage(request)
    assert stage.due_at == stage.started_at + timedelta(days=14)
    with time_machine.travel(stage.due_at - timedelta(minutes=1), tick=False):
        assert stages_time_out_due() == 0
    with time_machine.travel(stage.due_at + timedelta(minutes=1), tick=False):
        assert stages_time_out_due() == 1
        assert stages_time_out_due() == 0
    request.refresh_from_db()
    stage.refresh_from_db()
    assert (request.state, request.status) == (RequestState.DENIED, "Expired")
    assert stage.state == StageState.TIMED_OUT
    assert OutboxMessage.objects.filter(topic="request_expired").count() == 1
    assert AuditEvent.objects.filter(action="request.timedOut").count() == 1


def test_second_stage_deadline_counts_from_its_own_start(world):
    request = _submit(world)
    with time_machine.travel(_stage(request).started_at + timedelta(days=10), tick=False):
        stage_decide(stage_id=_stage(request).pk, approver=world.approver,
                     decision=Decision.APPROVE)
    stage2 = _stage(request, 2)
    with time_machine.travel(stage2.started_at + timedelta(days=13), tick=False):
        assert stages_time_out_due() == 0
    with time_machine.travel(stage2.started_at + timedelta(days=14, minutes=1), tick=False):
        assert stages_time_out_due() == 1
    assert _stage(request).state == StageState.APPROVED
    assert _stage(request, 2).state == StageState.TIMED_OUT


# Refusals


def test_self_approval_is_refused(world, assert_refused):
    request = _submit(world)
    assert_refused(lambda: stage_decide(stage_id=_stage(request).pk, approver=world.requester,
                                        decision=Decision.APPROVE),
                   NotAllowed, "selfApproval", "your own request")


def test_approver_of_another_stage_is_refused(world, assert_refused):
    request = _submit(world)
    assert_refused(lambda: stage_decide(stage_id=_stage(request).pk,
                                        approver=world.second_approver,
                                        decision=Decision.APPROVE),
                   NotAllowed, "notApprover", "not an approver of this stage")


def test_stranger_deciding_is_refused(world, assert_refused):
    request = _submit(world)
    assert_refused(lambda: stage_decide(stage_id=_stage(request).pk, approver=world.owner,
                                        decision=Decision.DENY),
                   NotAllowed, "notApprover", "not an approver")


def test_decision_on_a_decided_stage_names_who_decided(world, assert_refused):
    colleague = UserFactory(email="colleague@access.example")
    world.policy.stages.get(order=1).approver_sets.create(
        kind=ApproverKind.PRIMARY, subject_type=SubjectSetType.SINGLE_USER, user=colleague)
    request = _submit(world)
    stage_decide(stage_id=_stage(request).pk, approver=world.approver, decision=Decision.APPROVE)
    error = assert_refused(lambda: stage_decide(stage_id=_stage(request).pk, approver=colleague,
                                                decision=Decision.DENY),
                           InvalidState, "alreadyDecided", "already approved by",
                           str(world.approver))
    assert error.http_status == 409


def test_deciding_twice_is_refused(world, assert_refused):
    request = _submit(world)
    stage_decide(stage_id=_stage(request).pk, approver=world.approver, decision=Decision.DENY)
    assert_refused(lambda: stage_decide(stage_id=_stage(request).pk, approver=world.approver,
                                        decision=Decision.APPROVE),
                   InvalidState, "alreadyDecided", "already denied by")


def test_decision_after_timeout_is_refused(world, assert_refused):
    request = _submit(world)
    with time_machine.travel(_stage(request).due_at + timedelta(minutes=1), tick=False):
        stages_time_out_due()
        assert_refused(lambda: stage_decide(stage_id=_stage(request).pk,
                                            approver=world.approver, decision=Decision.APPROVE),
                       InvalidState, "alreadyDecided", "expired before anyone decided")


def test_decision_on_a_canceled_request_is_refused(world, assert_refused):
    request = _submit(world)
    request_cancel(actor=world.requester, request_id=request.pk)
    assert_refused(lambda: stage_decide(stage_id=_stage(request).pk, approver=world.approver,
                                        decision=Decision.APPROVE),
                   InvalidState, "alreadyDecided", "canceled")


def test_decision_on_a_stage_not_started_is_refused(world, assert_refused):
    request = _submit(world)
    stage2 = _stage(request, 2)
    StageApprover.objects.create(stage=stage2, user=world.approver, kind=ApproverKind.PRIMARY)
    assert_refused(lambda: stage_decide(stage_id=stage2.pk, approver=world.approver,
                                        decision=Decision.APPROVE),
                   InvalidState, "alreadyDecided", "not waiting for a decision")


def test_missing_approver_justification_is_refused(world, assert_refused):
    package = member_package(world, justification_required=True)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    assert_refused(lambda: stage_decide(stage_id=_stage(request).pk, approver=world.approver,
                                        decision=Decision.DENY, justification="  "),
                   InvalidInput, "justificationRequired", "justification is required")


def test_unknown_decision_is_refused(world, assert_refused):
    request = _submit(world)
    assert_refused(lambda: stage_decide(stage_id=_stage(request).pk, approver=world.approver,
                                        decision="Maybe"),
                   InvalidInput, "invalidInput", "Approve or Deny")


def test_unknown_stage_is_refused(world, assert_refused):
    assert_refused(lambda: stage_decide(stage_id=999999, approver=world.approver,
                                        decision=Decision.APPROVE),
                   NotFound, "stageNotFound", "does not exist")
