from datetime import timedelta

import time_machine

from governance.choices import AccountState, AssignmentState, Decision, RequestState
from governance.models import AuditEvent, GroupMembership, OutboxMessage
from governance.services.approvals import stage_decide
from governance.services.delivery import deliveries_process
from governance.services.expiry import assignments_expire_due, assignments_warn_expiring
from governance.services.guests import guests_delete_due
from governance.services.requests import request_submit


def test_two_stage_request_is_delivered_then_expires(world):
    request = request_submit(requestor=world.requester, access_package_id=world.package.pk,
                             justification="Joining the Falcon project",
                             answers={world.question.pk: "FAL-2026"})
    assert request.state == RequestState.PENDING_APPROVAL
    stage1, stage2 = request.stages.all()
    stage_decide(stage_id=stage1.pk, approver=world.approver, decision=Decision.APPROVE)
    stage_decide(stage_id=stage2.pk, approver=world.second_approver, decision=Decision.APPROVE)
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERING
    deliveries_process()
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERED
    assert GroupMembership.objects.filter(user=world.requester).count() == 2
    assignment = request.assignment
    with time_machine.travel(assignment.expires_at - timedelta(days=13), tick=False):
        assert assignments_warn_expiring() == 1
    with time_machine.travel(assignment.expires_at + timedelta(minutes=1), tick=False):
        assert assignments_expire_due() == 1
        deliveries_process()
        assignment.refresh_from_db()
        world.requester.refresh_from_db()
        assert assignment.state == AssignmentState.EXPIRED
        assert world.requester.account_state == AccountState.BLOCKED
        assert GroupMembership.objects.filter(user=world.requester).count() == 0
    with time_machine.travel(world.requester.blocked_at + timedelta(days=31), tick=False):
        assert guests_delete_due() == 1
    world.requester.refresh_from_db()
    assert world.requester.account_state == AccountState.DELETED
    assert OutboxMessage.objects.filter(topic="access_expiring").count() == 1
    assert AuditEvent.objects.filter(action="user.deleted").count() == 1
