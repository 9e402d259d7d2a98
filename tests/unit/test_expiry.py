from datetime import timedelta

import time_machine

from governance.choices import AssignmentState, DeliveryAction, DeliveryState, EndReason
from governance.models import AuditEvent, GroupMembership, OutboxMessage
from governance.services.delivery import deliveries_process
from governance.services.expiry import assignments_expire_due, assignments_warn_expiring
from governance.services.requests import request_extend, request_remove
from tests.factories import delivered_assignment


def _warnings(days=None):
    messages = OutboxMessage.objects.filter(topic="access_expiring")
    return messages.filter(payload__days=days) if days else messages


def test_nothing_is_warned_more_than_14_days_ahead(world):
    assignment = delivered_assignment(world)
    with time_machine.travel(assignment.expires_at - timedelta(days=14, minutes=1), tick=False):
        assert assignments_warn_expiring() == 0
    assert not _warnings().exists()


def test_warnings_at_14_and_1_days_are_queued_once_each(world):
    assignment = delivered_assignment(world)
    with time_machine.travel(assignment.expires_at - timedelta(days=13), tick=False):
        assert assignments_warn_expiring() == 1
        assert assignments_warn_expiring() == 0
    with time_machine.travel(assignment.expires_at - timedelta(days=5), tick=False):
        assert assignments_warn_expiring() == 0
    with time_machine.travel(assignment.expires_at - timedelta(hours=20), tick=False):
        assert assignments_warn_expiring() == 1
        assert assignments_warn_expiring() == 0
    assert _warnings(14).get().recipient == world.requester
    assert _warnings(1).get().recipient == world.requester
    assignment.refresh_from_db()
    assert assignment.warned_14_days_at and assignment.warned_1_day_at
    assert AuditEvent.objects.filter(action="assignment.expiryWarningQueued").count() == 2


def test_no_warning_when_the_policy_switches_emails_off(world):
    assignment = delivered_assignment(world)
    world.policy.send_assignment_emails = False
    world.policy.save()
    with time_machine.travel(assignment.expires_at - timedelta(days=13), tick=False):
        assert assignments_warn_expiring() == 1
    assert not _warnings().exists()


def test_extension_warns_again_before_the_new_expiry(world):
    assignment = delivered_assignment(world)
    first_expiry = assignment.expires_at
    with time_machine.travel(first_expiry - timedelta(days=13), tick=False):
        assignments_warn_expiring()
        request_extend(requestor=world.requester, assignment_id=assignment.pk,
                       justification="Longer", answers={world.question.pk: "FAL-2026"})
    assignment.refresh_from_db()
    assert assignment.expires_at > first_expiry
    assert assignment.warned_14_days_at is None
    with time_machine.travel(assignment.expires_at - timedelta(days=13), tick=False):
        assert assignments_warn_expiring() == 1
    assert _warnings(14).count() == 2


def test_due_assignment_expires_and_its_roles_are_removed(world):
    assignment = delivered_assignment(world)
    with time_machine.travel(assignment.expires_at - timedelta(minutes=1), tick=False):
        assert assignments_expire_due() == 0
    with time_machine.travel(assignment.expires_at + timedelta(minutes=1), tick=False):
        assert assignments_expire_due() == 1
        assert assignments_expire_due() == 0
        deliveries_process()
    assignment.refresh_from_db()
    assert (assignment.state, assignment.end_reason) == (AssignmentState.EXPIRED,
                                                         EndReason.EXPIRED)
    assert assignment.ended_at is not None
    assert set(assignment.deliveries.values_list("action", "state")) == {
        (DeliveryAction.REVOKE, DeliveryState.DONE)}
    assert not GroupMembership.objects.filter(user=world.requester).exists()
    assert OutboxMessage.objects.filter(topic="access_ended", recipient=world.requester).count() \
        == 1
    assert AuditEvent.objects.filter(action="assignment.expired",
                                     object_id=str(assignment.pk)).count() == 1
    assert AuditEvent.objects.filter(action="assignment.rolesRevoked").count() == 1


def test_expired_assignment_is_not_warned(world):
    assignment = delivered_assignment(world)
    with time_machine.travel(assignment.expires_at + timedelta(minutes=1), tick=False):
        assignments_expire_due()
        assert assignments_warn_expiring() == 0


def test_removal_ends_the_assignment_and_takes_the_roles_away(world):
    assignment = delivered_assignment(world)
    request_remove(actor=world.requester, assignment_id=assignment.pk)
    assignment.refresh_from_db()
    assert (assignment.state, assignment.end_reason) == (AssignmentState.EXPIRED,
                                                         EndReason.REMOVED_BY_USER)
    assert not GroupMembership.objects.filter(user=world.requester).exists()
    with time_machine.travel(assignment.expires_at + timedelta(minutes=1), tick=False):
        assert assignments_expire_due() == 0
    assert AuditEvent.objects.filter(action="assignment.removed").count() == 1
