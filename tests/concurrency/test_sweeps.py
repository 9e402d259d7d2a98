"""A sweep running twice at once (two workers, or beat firing while the last run is still
going) does each piece of work once."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.db.models import Count

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AccountState,
    AssignmentState,
    DeliveryAction,
    DeliveryState,
    EndReason,
    OutboxState,
    RequestState,
    StageState,
)
from governance.models import (
    ApprovalStage,
    Assignment,
    AssignmentRequest,
    AuditEvent,
    GroupMembership,
    OutboxMessage,
    RoleDelivery,
    User,
)
from governance.services.approvals import stages_time_out_due
from governance.services.delivery import deliveries_process
from governance.services.expiry import assignments_expire_due, assignments_warn_expiring
from governance.services.outbox import outbox_send_due
from governance.services.requests import request_admin_add, request_submit
from tests.concurrency.race import raise_unexpected, run_together
from tests.factories import GuestFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _guests(world, count: int) -> list[User]:
    return [GuestFactory(connected_organization=world.organization) for _ in range(count)]


def _direct_assignments(world, count: int) -> list[int]:
    """`count` guests assigned the package by its catalog owner; deliveries not yet run."""
    return [request_admin_add(actor=world.owner, access_package_id=world.package.pk,
                              policy_id=world.policy.pk, target=guest).assignment_id
            for guest in _guests(world, count)]


def _per_object(action: str) -> Counter:
    return Counter(AuditEvent.objects.filter(action=action).values_list("object_id", flat=True))


def _twice(sweep, **kwargs) -> list[int]:
    """Run `sweep` as two workers at the same moment; how much each one did."""
    outcomes = run_together(lambda: sweep(**kwargs), lambda: sweep(**kwargs))
    raise_unexpected(outcomes)
    return [outcome.value for outcome in outcomes]


def test_two_expiry_sweeps_end_each_assignment_once(world):
    ids = _direct_assignments(world, 300)
    deliveries_process()
    after_expiry = Assignment.objects.latest("expires_at").expires_at + timedelta(minutes=1)

    with time_machine.travel(after_expiry, tick=False):
        counts = _twice(assignments_expire_due, batch_size=25)

    assert sum(counts) == 300, counts
    assignments = Assignment.objects.filter(pk__in=ids)
    assert set(assignments.values_list("state", "end_reason")) == {
        (AssignmentState.EXPIRED, EndReason.EXPIRED)}
    expected = Counter({str(pk): 1 for pk in ids})
    assert _per_object("assignment.expired") == expected
    assert Counter(str(payload["assignment_id"]) for payload in OutboxMessage.objects.filter(
        topic="access_ended").values_list("payload", flat=True)) == expected
    # Each grant was revoked once, in the transaction that ended its assignment.
    revokes = RoleDelivery.objects.filter(assignment_id__in=ids)
    assert revokes.count() == 600
    assert set(revokes.values_list("action", "state", "attempts")) == {
        (DeliveryAction.REVOKE, DeliveryState.DONE, 1)}
    assert _per_object("assignment.rolesRevoked") == expected
    assert not GroupMembership.objects.filter(user__assignments__in=ids).exists()
    # Each guest lost their only assignment: blocked once.
    guests = User.objects.filter(assignments__in=ids)
    assert set(guests.values_list("account_state", flat=True)) == {AccountState.BLOCKED}
    assert _per_object("user.blocked") == Counter(
        {str(pk): 1 for pk in guests.values_list("pk", flat=True)})


def test_two_warning_sweeps_warn_each_assignment_once(world):
    ids = _direct_assignments(world, 100)
    deliveries_process()
    expiry = Assignment.objects.latest("expires_at").expires_at

    with time_machine.travel(expiry - timedelta(days=13), tick=False):
        counts = _twice(assignments_warn_expiring, batch_size=10)

    assert sum(counts) == 100, counts
    expected = Counter({str(pk): 1 for pk in ids})
    assert _per_object("assignment.expiryWarningQueued") == expected
    assert Counter(str(payload["assignment_id"]) for payload in OutboxMessage.objects.filter(
        topic="access_expiring").values_list("payload", flat=True)) == expected


def test_two_delivery_sweeps_apply_each_role_once(world):
    ids = _direct_assignments(world, 300)
    assert RoleDelivery.objects.filter(state=DeliveryState.PENDING).count() == 600

    counts = _twice(deliveries_process, batch_size=25)

    assert sum(counts) == 600, counts
    deliveries = RoleDelivery.objects.filter(assignment_id__in=ids)
    assert set(deliveries.values_list("state", "attempts")) == {(DeliveryState.DONE, 1)}
    # Batches may split an assignment's two roles between workers: so count per role.
    granted = Counter(
        (event.object_id, role)
        for event in AuditEvent.objects.filter(action="assignment.rolesGranted")
        for role in event.after["roles"])
    role_ids = sorted(world.package.role_scopes.values_list("role__origin_id", flat=True))
    assert granted == Counter({(str(pk), role): 1 for pk in ids for role in role_ids})
    assert _per_object("assignment.delivered") == Counter({str(pk): 1 for pk in ids})
    assert set(Assignment.objects.filter(pk__in=ids).values_list("state", flat=True)) == {
        AssignmentState.DELIVERED}
    assert set(AssignmentRequest.objects.filter(assignment__in=ids)
               .values_list("state", flat=True)) == {RequestState.DELIVERED}
    memberships = GroupMembership.objects.filter(user__assignments__in=ids)
    assert set(memberships.values("user").annotate(groups=Count("group", distinct=True))
               .values_list("groups", flat=True)) == {2}
    assert memberships.count() == 600
    assert OutboxMessage.objects.filter(topic="access_delivered").count() == 300


def test_two_deadline_sweeps_time_out_each_request_once(world):
    requests = [request_submit(requestor=guest, access_package_id=world.package.pk,
                               justification="Joining the Falcon project",
                               answers={world.question.pk: "FAL-2026"})
                for guest in _guests(world, 100)]
    past_deadline = ApprovalStage.objects.filter(order=1).latest("due_at").due_at \
        + timedelta(minutes=1)

    with time_machine.travel(past_deadline, tick=False):
        counts = _twice(stages_time_out_due, batch_size=10)

    assert sum(counts) == 100, counts
    ids = [request.pk for request in requests]
    assert set(AssignmentRequest.objects.filter(pk__in=ids).values_list("state", "status")) == {
        (RequestState.DENIED, "Expired")}
    assert set(ApprovalStage.objects.filter(request__in=ids, order=1)
               .values_list("state", flat=True)) == {StageState.TIMED_OUT}
    assert _per_object("request.timedOut") == Counter({str(pk): 1 for pk in ids})
    assert Counter(payload["request_id"] for payload in OutboxMessage.objects.filter(
        topic="request_expired").values_list("payload", flat=True)) == Counter(
        {pk: 1 for pk in ids})


def test_two_outbox_sweeps_send_each_email_once(world, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _direct_assignments(world, 100)
    deliveries_process()  # queues one "access delivered" email per guest
    queued = OutboxMessage.objects.filter(state=OutboxState.QUEUED)
    addresses = sorted(queued.values_list("to_address", flat=True))
    assert len(addresses) == 100
    mail.outbox = []

    counts = _twice(outbox_send_due, batch_size=10)

    assert sum(counts) == 100, counts
    assert sorted(address for message in mail.outbox for address in message.to) == addresses
    assert set(OutboxMessage.objects.values_list("state", "attempts")) == {(OutboxState.SENT, 1)}


class TestClaimingDueRows:
    """Why the sweeps claim with SELECT … FOR UPDATE SKIP LOCKED: without it, two workers
    reading the due rows at the same moment both take the same ones."""

    @pytest.fixture
    def due(self, world):
        ids = _direct_assignments(world, 50)
        after_expiry = Assignment.objects.latest("expires_at").expires_at + timedelta(minutes=1)
        with time_machine.travel(after_expiry, tick=False):
            yield ids

    @staticmethod
    def _claim_together(*, skip_locked: bool) -> list[set[int]]:
        claimed = []
        both_claimed = threading.Barrier(2, timeout=30)

        def claim():
            with transaction.atomic():
                rows = Assignment.objects.filter(state__in=ASSIGNMENT_ACTIVE,
                                                 expires_at__lte=clock.now())
                if skip_locked:
                    rows = rows.select_for_update(skip_locked=True)
                claimed.append(set(rows.order_by("id").values_list("id", flat=True)[:25]))
                both_claimed.wait()  # neither commits before the other has claimed

        raise_unexpected(run_together(claim, claim))
        return claimed

    def test_plain_reads_claim_the_same_rows(self, due):
        first, second = self._claim_together(skip_locked=False)
        assert first == second and len(first) == 25

    def test_skip_locked_claims_disjoint_rows(self, due):
        first, second = self._claim_together(skip_locked=True)
        assert not first & second
        assert first | second == set(due)
