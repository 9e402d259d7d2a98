"""The whole life of a guest's access, on PostgreSQL, with a real Celery worker on Redis."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail

from governance import tasks
from governance.choices import AccountState, AssignmentState, Decision, RequestState
from governance.models import AssignmentRequest, AuditEvent, GroupMembership, OutboxMessage, User
from governance.services.approvals import stage_decide
from governance.services.requests import request_submit
from tests.factories import build_world
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _memberships(user):
    return set(GroupMembership.objects.filter(user=user).values_list("group__display_name",
                                                                      flat=True))


def test_guest_requests_is_approved_twice_is_delivered_expires_and_is_deleted(celery_worker):
    world = build_world()
    guest = world.requester

    request = request_submit(requestor=guest, access_package_id=world.package.pk,
                             justification="I run the Falcon integration for Contoso.",
                             answers={world.question.pk: "FAL-2026"})
    assert request.state == RequestState.PENDING_APPROVAL
    stage1, stage2 = request.stages.order_by("order")
    wait_for(lambda: any("Approval needed" in m.subject and world.approver.email in m.to
                         for m in mail.outbox), what="the approval email to stage 1")

    stage_decide(stage_id=stage1.pk, approver=world.approver, decision=Decision.APPROVE,
                 justification="Known partner")
    wait_for(lambda: any(world.second_approver.email in m.to for m in mail.outbox),
             what="the approval email to stage 2")
    stage_decide(stage_id=stage2.pk, approver=world.second_approver, decision=Decision.APPROVE)

    # Delivery happens on the worker, within seconds of the final approval.
    request = wait_for(lambda: AssignmentRequest.objects.filter(
        pk=request.pk, state=RequestState.DELIVERED).first(), what="delivery")
    assert _memberships(guest) == {"Project Falcon", "Falcon Reports"}
    assignment = request.assignment
    assert assignment.state == AssignmentState.DELIVERED
    guest.refresh_from_db()
    assert guest.subject_lifecycle == "governed"

    def warnings_queued():
        return set(OutboxMessage.objects.filter(topic="access_expiring")
                   .values_list("payload__days", flat=True))

    with time_machine.travel(assignment.expires_at - timedelta(days=13)):
        tasks.sweep_expirations.delay()
        wait_for(lambda: warnings_queued() == {14}, what="the 14-day warning")
    with time_machine.travel(assignment.expires_at - timedelta(hours=12)):
        tasks.sweep_expirations.delay()
        wait_for(lambda: warnings_queued() == {14, 1}, what="the 1-day warning")
        tasks.sweep_expirations.delay()  # a second sweep queues nothing more
        wait_for(lambda: OutboxMessage.objects.filter(topic="access_expiring",
                                                      state="sent").count() == 2,
                 what="both warnings sent")
    assert OutboxMessage.objects.filter(topic="access_expiring").count() == 2

    with time_machine.travel(assignment.expires_at + timedelta(minutes=1)):
        tasks.sweep_expirations.delay()
        wait_for(lambda: not _memberships(guest), what="the memberships to go")
        assignment.refresh_from_db()
        assert assignment.state == AssignmentState.EXPIRED
        guest.refresh_from_db()
        assert guest.account_state == AccountState.BLOCKED
        assert not guest.is_active
        assert guest.delete_due_at == guest.blocked_at + timedelta(days=30)

    with time_machine.travel(guest.blocked_at + timedelta(days=29)):
        tasks.sweep_guests.delay()
        tasks.sweep_outbox.delay()
        wait_for(lambda: OutboxMessage.objects.filter(topic="guest_blocked",
                                                      state="sent").exists(),
                 what="the blocked notice")
        assert User.objects.get(pk=guest.pk).account_state == AccountState.BLOCKED
    with time_machine.travel(guest.delete_due_at + timedelta(minutes=1)):
        tasks.sweep_guests.delay()
        wait_for(lambda: User.objects.get(pk=guest.pk).account_state == AccountState.DELETED,
                 what="the guest's deletion")

    steps = list(AuditEvent.objects.order_by("at", "id").values_list("action", flat=True))
    expected = [
        "request.submitted", "stage.started", "stage.approved", "stage.started",
        "stage.approved", "request.approved", "assignment.created", "assignment.rolesGranted",
        "assignment.delivered", "assignment.expiryWarningQueued",
        "assignment.expiryWarningQueued", "assignment.expired", "assignment.rolesRevoked",
        "user.blocked", "user.deleted",
    ]
    assert [step for step in steps if step in expected] == expected
