from datetime import timedelta

import pytest
import time_machine

from governance import clock
from governance.choices import (
    AllowedTargetScope,
    AssignmentState,
    DeliveryAction,
    DeliveryState,
    RequestState,
)
from governance.connectors import Connector, ConnectorError, register_connector
from governance.connectors.local import LocalGroupConnector
from governance.models import AuditEvent, GroupMembership, OutboxMessage, RoleDelivery
from governance.services.delivery import (
    MAX_ATTEMPTS,
    deliveries_process,
    delivery_reprocess,
    requests_start_scheduled,
)
from governance.services.errors import NotAllowed, NotFound
from governance.services.expiry import KEPT_NOTE
from governance.services.requests import (
    request_admin_add,
    request_cancel,
    request_remove,
    request_submit,
)
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    PackageFactory,
    PolicyFactory,
    delivered_assignment,
    group_role,
)


class ScriptedConnector(Connector):
    """Delivers like the local connector, unless told to fail (or to die like a killed worker)."""

    key = "scripted-test"

    def __init__(self):
        self.error: Exception | None = None
        self.calls = 0

    def apply(self, changes):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return LocalGroupConnector().apply(changes)


@pytest.fixture
def connector():
    scripted = ScriptedConnector()
    register_connector(scripted)
    return scripted


@pytest.fixture
def remote(world, connector):
    """A package granting a local group and a group behind the scripted connector."""
    package = PackageFactory(catalog=world.catalog, display_name="Remote lab")
    group_role(package, world.group)
    remote_group = GroupFactory(display_name="Remote lab users")
    role = group_role(package, remote_group)
    role.resource.connector = connector.key
    role.resource.save()
    PolicyFactory(access_package=package, allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS)
    return package, remote_group


def _remote_delivery(assignment):
    return assignment.deliveries.get(role__resource__connector="scripted-test")


def test_each_role_has_its_own_delivery_and_all_done_means_delivered(world):
    assignment = delivered_assignment(world)
    assert assignment.state == AssignmentState.DELIVERED
    assert list(assignment.deliveries.values_list("action", "state", "attempts")) == [
        (DeliveryAction.GRANT, DeliveryState.DONE, 1)] * 2
    assert set(GroupMembership.objects.filter(user=world.requester)
               .values_list("group", flat=True)) == {world.group.pk, world.other_group.pk}
    assert assignment.requests.get().state == RequestState.DELIVERED
    assert OutboxMessage.objects.filter(topic="access_delivered").count() == 1
    assert AuditEvent.objects.filter(action="assignment.rolesGranted").count() == 1
    assert deliveries_process() == 0


def test_deleted_group_gives_partial_delivery(world):
    request = request_admin_add(actor=world.owner, access_package_id=world.package.pk,
                                policy_id=world.policy.pk, target=world.outsider)
    world.other_group.delete()
    deliveries_process()
    request.refresh_from_db()
    assignment = request.assignment
    failed = assignment.deliveries.get(state=DeliveryState.FAILED)
    assert "no longer exists" in failed.last_error
    assert failed.attempts == 1  # not retryable: failed at once
    assert assignment.deliveries.get(state=DeliveryState.DONE).role.resource.origin_id == \
        str(world.group.pk)
    assert assignment.state == AssignmentState.PARTIALLY_DELIVERED
    assert request.state == RequestState.PARTIALLY_DELIVERED
    assert GroupMembership.objects.filter(user=world.outsider, group=world.group).exists()


def test_failing_connector_retries_with_backoff_then_delivers(world, remote, connector):
    package, remote_group = remote
    connector.error = ConnectorError("Target unreachable")
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    start = clock.now()
    with time_machine.travel(start, tick=False):
        deliveries_process()
    delivery = _remote_delivery(request.assignment)
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 1)
    assert delivery.last_error == "Target unreachable"
    assert delivery.next_attempt_at == start + timedelta(seconds=30)
    request.assignment.refresh_from_db()
    assert request.assignment.state == AssignmentState.DELIVERING
    with time_machine.travel(start + timedelta(seconds=29), tick=False):
        assert deliveries_process() == 0
    connector.error = None
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert deliveries_process() == 1
    delivery.refresh_from_db()
    request.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.DONE, 2, "")
    assert request.state == RequestState.DELIVERED
    assert GroupMembership.objects.filter(user=world.member, group=remote_group).exists()


def test_max_attempts_mark_the_role_failed(world, remote, connector):
    package, _ = remote
    connector.error = RuntimeError("connection reset")
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    at = clock.now()
    waits = []
    for _ in range(MAX_ATTEMPTS):
        with time_machine.travel(at, tick=False):
            deliveries_process()
        delivery = _remote_delivery(request.assignment)
        if delivery.next_attempt_at:
            waits.append(delivery.next_attempt_at - at)
            at = delivery.next_attempt_at
    assert waits == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, MAX_ATTEMPTS)
    assert delivery.last_error == "RuntimeError: connection reset"
    request.refresh_from_db()
    assert request.assignment.state == AssignmentState.PARTIALLY_DELIVERED
    assert request.state == RequestState.PARTIALLY_DELIVERED
    with time_machine.travel(at + timedelta(days=1), tick=False):
        assert deliveries_process() == 0


def test_only_failing_role_gives_delivery_failed(world, connector):
    package = PackageFactory(catalog=world.catalog)
    role = group_role(package, GroupFactory())
    role.resource.connector = connector.key
    role.resource.save()
    PolicyFactory(access_package=package)
    connector.error = ConnectorError("No such tenant", retryable=False)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    deliveries_process()
    request.refresh_from_db()
    assert request.assignment.state == AssignmentState.DELIVERY_FAILED
    assert request.state == RequestState.DELIVERY_FAILED
    assert connector.calls == 1


def test_reprocess_retries_failed_roles(world, remote, connector):
    package, remote_group = remote
    connector.error = ConnectorError("Forbidden", retryable=False)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    deliveries_process()
    assignment = request.assignment
    connector.error = None
    request.refresh_from_db()
    assert request.state == RequestState.PARTIALLY_DELIVERED
    assert delivery_reprocess(actor=world.owner, assignment_id=assignment.pk) == 1
    assignment.refresh_from_db()
    request.refresh_from_db()
    assert assignment.state == AssignmentState.DELIVERING
    assert (request.state, request.completed_at) == (RequestState.DELIVERING, None)
    assert _remote_delivery(assignment).attempts == 0
    assert deliveries_process() == 1
    assignment.refresh_from_db()
    request.refresh_from_db()
    assert assignment.state == AssignmentState.DELIVERED
    assert (request.state, request.status) == (RequestState.DELIVERED, "Delivered")
    assert GroupMembership.objects.filter(user=world.member, group=remote_group).exists()
    assert AuditEvent.objects.filter(action="assignment.reprocessed", actor=world.owner).exists()


def test_reprocess_tries_a_role_waiting_for_its_retry_now(world, remote, connector):
    """The system was down and is back: the administrator need not wait for the backoff."""
    package, remote_group = remote
    connector.error = ConnectorError("Could not reach https://crm.example: Connection refused.")
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    deliveries_process()
    waiting = _remote_delivery(request.assignment)
    assert waiting.state == DeliveryState.PENDING and waiting.next_attempt_at > clock.now()
    connector.error = None
    assert deliveries_process() == 0  # not due yet
    assert delivery_reprocess(actor=world.owner, assignment_id=request.assignment.pk) == 1
    waiting.refresh_from_db()
    assert waiting.attempts == 1  # a retry, not a fresh start
    assert deliveries_process() == 1
    assert GroupMembership.objects.filter(user=world.member, group=remote_group).exists()
    assert delivery_reprocess(actor=world.owner, assignment_id=request.assignment.pk) == 0


def test_reprocess_by_someone_without_a_catalog_role_is_refused(world, assert_refused):
    assignment = delivered_assignment(world)
    assert_refused(lambda: delivery_reprocess(actor=world.approver, assignment_id=assignment.pk),
                   NotAllowed, "notAllowed", "may not reprocess")
    assert_refused(lambda: delivery_reprocess(actor=world.owner, assignment_id=999999),
                   NotFound, "assignmentNotFound", "does not exist")


def test_rows_stuck_in_flight_are_claimed_again(world, remote, connector):
    package, remote_group = remote
    connector.error = SystemExit("worker killed")
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    start = clock.now()
    with time_machine.travel(start, tick=False), pytest.raises(SystemExit):
        deliveries_process()
    # Both roles were claimed together; the worker died before recording either result.
    assert RoleDelivery.objects.filter(state=DeliveryState.IN_FLIGHT).count() == 2
    connector.error = None
    with time_machine.travel(start + timedelta(minutes=9), tick=False):
        assert deliveries_process() == 0
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert deliveries_process() == 2
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERED
    assert not RoleDelivery.objects.filter(state=DeliveryState.IN_FLIGHT).exists()
    assert _remote_delivery(request.assignment).attempts == 2
    assert GroupMembership.objects.filter(user=world.member, group=remote_group).exists()


def test_removal_revokes_own_groups_at_once_and_queues_other_systems(world, remote):
    package, remote_group = remote
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    deliveries_process()
    request_remove(actor=world.member, assignment_id=request.assignment.pk)
    local = request.assignment.deliveries.get(role__resource__connector="local")
    assert (local.action, local.state, local.attempts) == (DeliveryAction.REVOKE,
                                                           DeliveryState.DONE, 1)
    assert not GroupMembership.objects.filter(user=world.member, group=world.group).exists()
    remote_row = _remote_delivery(request.assignment)
    assert (remote_row.action, remote_row.state) == (DeliveryAction.REVOKE,
                                                     DeliveryState.PENDING)
    assert GroupMembership.objects.filter(user=world.member, group=remote_group).exists()
    assert deliveries_process() == 1
    assert not GroupMembership.objects.filter(user=world.member).exists()


class InTransactionScriptedConnector(ScriptedConnector):
    key = "scripted-local"
    in_transaction = True


def test_a_grant_in_flight_when_access_ends_is_revoked_by_the_workers(world):
    scripted = InTransactionScriptedConnector()
    register_connector(scripted)
    package = PackageFactory(catalog=world.catalog, display_name="Scripted")
    role = group_role(package, world.group)
    role.resource.connector = scripted.key
    role.resource.save()
    PolicyFactory(access_package=package, allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    scripted.error = SystemExit("worker killed mid-grant")
    start = clock.now()
    with time_machine.travel(start, tick=False), pytest.raises(SystemExit):
        deliveries_process()
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        request_remove(actor=world.member, assignment_id=request.assignment.pk)
    # The grant may still land: revoking now could leave it behind, so the workers revoke.
    row = request.assignment.deliveries.get()
    assert (row.action, row.state) == (DeliveryAction.REVOKE, DeliveryState.PENDING)
    scripted.error = None
    GroupMembership.objects.create(group=world.group, user=world.member)  # the late grant
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        assert deliveries_process() == 1
    assert not GroupMembership.objects.filter(user=world.member).exists()


def _second_package_granting(world, group, catalog=None):
    package = PackageFactory(catalog=catalog or world.catalog, display_name="Falcon chat")
    group_role(package, group)
    policy = PolicyFactory(access_package=package)
    return package, policy


def test_revocation_keeps_a_role_still_granted_by_another_assignment(world):
    assignment = delivered_assignment(world)
    package, _ = _second_package_granting(world, world.group)
    other = request_submit(requestor=world.requester, access_package_id=package.pk).assignment
    deliveries_process()
    request_remove(actor=world.requester, assignment_id=assignment.pk)
    kept = assignment.deliveries.get(role__resource__origin_id=str(world.group.pk))
    assert (kept.action, kept.state, kept.note) == (DeliveryAction.REVOKE, DeliveryState.DONE,
                                                    KEPT_NOTE)
    deliveries_process()
    groups = set(GroupMembership.objects.filter(user=world.requester)
                 .values_list("group", flat=True))
    assert groups == {world.group.pk}
    request_remove(actor=world.requester, assignment_id=other.pk)
    deliveries_process()
    assert not GroupMembership.objects.filter(user=world.requester).exists()


def test_revocation_keeps_a_group_granted_through_another_catalog(world):
    assignment = delivered_assignment(world)
    package, _ = _second_package_granting(world, world.group, catalog=CatalogFactory())
    request_submit(requestor=world.requester, access_package_id=package.pk)
    deliveries_process()
    request_remove(actor=world.requester, assignment_id=assignment.pk)
    deliveries_process()
    assert GroupMembership.objects.filter(user=world.requester, group=world.group).exists()
    assert not GroupMembership.objects.filter(user=world.requester,
                                              group=world.other_group).exists()


def _scheduled_request(world, days_ahead=3):
    package, policy = _second_package_granting(world, world.other_group)
    policy.allow_custom_schedule = True
    policy.save()
    start = clock.now() + timedelta(days=days_ahead)
    return request_submit(requestor=world.member, access_package_id=package.pk,
                          start_at=start), start


def test_scheduled_request_starts_on_time(world):
    request, start = _scheduled_request(world)
    assert request.state == RequestState.SCHEDULED
    assert request.assignment is None
    with time_machine.travel(start - timedelta(minutes=1), tick=False):
        assert requests_start_scheduled() == 0
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert requests_start_scheduled() == 1
        assert requests_start_scheduled() == 0
        deliveries_process()
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERED
    assert request.assignment.start_at == start
    assert request.assignment.expires_at == start + timedelta(days=30)
    assert GroupMembership.objects.filter(user=world.member, group=world.other_group).exists()


def test_scheduled_request_can_be_canceled_before_it_starts(world):
    request, start = _scheduled_request(world)
    request_cancel(actor=world.member, request_id=request.pk)
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert requests_start_scheduled() == 0
    request.refresh_from_db()
    assert request.state == RequestState.CANCELED
    assert request.assignment is None
