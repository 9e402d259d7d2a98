"""The parts shared by every configured target system: one connector per system, Retry-After,
the ids learned for people there, and blocking, unblocking and deleting their accounts."""

from datetime import timedelta

import pytest
import time_machine

from governance import clock
from governance.choices import (
    AccountAction,
    AccountState,
    AssignmentState,
    CatalogRole,
    DeliveryState,
    ExternalUserLifecycleAction,
)
from governance.connectors import (
    ChangeResult,
    Connector,
    ConnectorError,
    register_system_connector,
)
from governance.models import (
    AuditEvent,
    CatalogRoleAssignment,
    Resource,
    ResourceRole,
    ResourceRoleScope,
    SystemAccount,
    TargetSystem,
    TenantSettings,
)
from governance.services.accounts import MAX_ATTEMPTS, accounts_change, accounts_process
from governance.services.delivery import deliveries_process
from governance.services.guests import guests_delete_due
from governance.services.internal.retry import backoff
from governance.services.requests import request_admin_add, request_remove
from tests.factories import CatalogFactory, PackageFactory, PolicyFactory

KIND = "recorder"


class RecordingConnector(Connector):
    """Remembers what each system was asked; fails as the test says. Ids are "ext-<user>"."""

    calls: list[tuple] = []
    error: ConnectorError | None = None

    def apply(self, changes):
        results = []
        for change in changes:
            self.calls.append((self.system.display_name, change.action, change.user_id,
                               change.user_external_id, change.resource_origin_id))
            if self.error is not None:
                results.append(ChangeResult.failed(change.delivery_id, self.error))
            else:
                results.append(ChangeResult(change.delivery_id,
                                            external_user_id=f"ext-{change.user_id}"))
        return results

    def _account(self, action, person):
        self.calls.append((self.system.display_name, action, person.user_id, person.external_id))
        if self.error is not None:
            raise self.error

    def block_user(self, person):
        self._account("block", person)

    def unblock_user(self, person):
        self._account("unblock", person)

    def delete_user(self, person):
        self._account("delete", person)


@pytest.fixture
def recording():
    RecordingConnector.calls, RecordingConnector.error = [], None
    register_system_connector(KIND, RecordingConnector)  # (a kind no real system has)
    return RecordingConnector


def _system(name: str) -> TargetSystem:
    return TargetSystem.objects.create(display_name=name, kind=KIND, base_url="https://x.test")


def _remote_package(world, system, *, group_id="g-1", name="Remote app", catalog=None):
    """A package granting one role of `system`, assignable by the world's owner."""
    resource, _ = Resource.objects.get_or_create(
        catalog=catalog or world.catalog, origin_system="ScimGroup", origin_id=group_id,
        defaults={"display_name": f"Group {group_id}", "connector": KIND, "system": system})
    role, _ = ResourceRole.objects.get_or_create(resource=resource, origin_id="Member",
                                                 defaults={"display_name": "Member"})
    package = PackageFactory(catalog=catalog or world.catalog, display_name=name)
    ResourceRoleScope.objects.create(access_package=package, role=role)
    return package, PolicyFactory(access_package=package)


def _other_catalog(world):
    """A second catalog the world's owner also owns: the same group id may sit in both."""
    catalog = CatalogFactory(display_name="Partners")
    CatalogRoleAssignment.objects.create(catalog=catalog, user=world.owner,
                                         role=CatalogRole.OWNER)
    return catalog


def _assign(world, package, policy, target=None):
    request = request_admin_add(actor=world.owner, access_package_id=package.pk,
                                policy_id=policy.pk, target=target or world.requester)
    deliveries_process()
    request.refresh_from_db()
    return request.assignment


def test_each_system_gets_its_own_connector_and_learns_the_person_id(world, recording):
    first, second = _system("App one"), _system("App two")
    package_1, policy_1 = _remote_package(world, first, name="One")
    package_2, policy_2 = _remote_package(world, second, name="Two",
                                          catalog=_other_catalog(world))
    _assign(world, package_1, policy_1)
    assignment = _assign(world, package_2, policy_2)
    assert assignment.state == AssignmentState.DELIVERED
    user = world.requester.pk
    # The first change to each system does not know the person's id there; it learns it.
    assert recording.calls == [("App one", "grant", user, "", "g-1"),
                               ("App two", "grant", user, "", "g-1")]
    assert sorted(SystemAccount.objects.values_list("system__display_name", "external_id")) == [
        ("App one", f"ext-{user}"), ("App two", f"ext-{user}")]
    # The next change is told the id learned before.
    request_remove(actor=world.owner, as_admin=True, assignment_id=assignment.pk)
    deliveries_process()
    assert recording.calls[-1] == ("App two", "revoke", user, f"ext-{user}", "g-1")


def test_retry_after_longer_than_backoff_is_honoured(world, recording):
    package, policy = _remote_package(world, _system("Busy app"))
    recording.error = ConnectorError("Throttled: 429", retry_after=900)
    before = clock.now()
    assignment = _assign(world, package, policy)
    delivery = assignment.deliveries.get()
    assert delivery.state == DeliveryState.PENDING
    assert delivery.last_error == "Throttled: 429"
    assert delivery.next_attempt_at >= before + timedelta(seconds=900)
    # A short Retry-After does not shorten the backoff.
    recording.error = ConnectorError("Throttled: 429", retry_after=1)
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=False):
        deliveries_process()
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == clock.now() + backoff(2)


def test_same_group_id_in_two_systems_is_not_granted_elsewhere(world, recording):
    """Revoking one system's role is not "kept" because another system has an equal id."""
    package_1, policy_1 = _remote_package(world, _system("App one"), name="One")
    package_2, policy_2 = _remote_package(world, _system("App two"), name="Two",
                                          catalog=_other_catalog(world))
    first = _assign(world, package_1, policy_1)
    _assign(world, package_2, policy_2)
    request_remove(actor=world.owner, as_admin=True, assignment_id=first.pk)
    deliveries_process()
    assert recording.calls[-1][:2] == ("App one", "revoke")
    assert first.deliveries.get().note == ""


def _governed_guest_with_account(world, recording, action=ExternalUserLifecycleAction.BLOCK,
                                 days=30):
    TenantSettings.objects.filter(pk=TenantSettings.current().pk).update(
        external_user_lifecycle_action=action,
        days_until_external_user_deleted_after_blocked=days)
    package, policy = _remote_package(world, _system("Partner app"))
    assignment = _assign(world, package, policy)
    return assignment, SystemAccount.objects.get(user=world.requester)


def test_losing_the_last_access_blocks_the_guest_in_the_system_too(world, recording):
    assignment, account = _governed_guest_with_account(world, recording)
    request_remove(actor=world.owner, as_admin=True, assignment_id=assignment.pk)
    account.refresh_from_db()
    assert account.pending_action == AccountAction.BLOCK
    accounts_process()
    account.refresh_from_db()
    assert (account.state, account.pending_action) == (AccountState.BLOCKED, "")
    guest = world.requester.pk
    assert ("Partner app", "block", guest, f"ext-{guest}") in recording.calls
    assert AuditEvent.objects.filter(action="systemAccount.blocked",
                                     object_id=str(account.pk)).count() == 1
    assert accounts_process() == 0  # nothing twice


def test_a_new_assignment_unblocks_and_a_due_deletion_deletes(world, recording):
    assignment, account = _governed_guest_with_account(
        world, recording, action=ExternalUserLifecycleAction.BLOCK_AND_DELETE, days=7)
    request_remove(actor=world.owner, as_admin=True, assignment_id=assignment.pk)
    accounts_process()
    package, policy = _remote_package(world, account.system, group_id="g-2", name="Again")
    _assign(world, package, policy)
    account.refresh_from_db()
    assert account.pending_action == AccountAction.UNBLOCK
    accounts_process()
    account.refresh_from_db()
    assert account.state == AccountState.ACTIVE
    second = world.requester.assignments.get(access_package=package)
    request_remove(actor=world.owner, as_admin=True, assignment_id=second.pk)
    accounts_process()
    world.requester.refresh_from_db()
    with time_machine.travel(world.requester.delete_due_at + timedelta(minutes=1), tick=False):
        assert guests_delete_due() == 1
        accounts_process()
    account.refresh_from_db()
    assert account.state == AccountState.DELETED
    actions = [call[1] for call in recording.calls if call[1] in {"block", "unblock", "delete"}]
    assert actions == ["block", "unblock", "block", "delete"]


def test_a_newer_action_replaces_one_not_yet_carried_out(world, recording):
    _, account = _governed_guest_with_account(world, recording)
    accounts_change(user_ids=[world.requester.pk], action=AccountAction.BLOCK)
    accounts_change(user_ids=[world.requester.pk], action=AccountAction.UNBLOCK)
    account.refresh_from_db()
    # Still active, nothing queued: unblocking an account that was never blocked does nothing.
    assert (account.state, account.pending_action) == (AccountState.ACTIVE, "")
    assert accounts_process() == 0


def test_failures_retry_with_backoff_and_stop_after_the_last_attempt(world, recording):
    _, account = _governed_guest_with_account(world, recording)
    recording.error = ConnectorError("503 from PATCH /Users/x: try later")
    accounts_change(user_ids=[world.requester.pk], action=AccountAction.BLOCK)
    start = clock.now()
    accounts_process()
    account.refresh_from_db()
    assert account.last_error == "503 from PATCH /Users/x: try later"
    assert account.next_attempt_at >= start + backoff(1)
    for _ in range(MAX_ATTEMPTS - 1):
        with time_machine.travel(account.next_attempt_at + timedelta(seconds=1), tick=False):
            accounts_process()
        account.refresh_from_db()
    assert account.attempts == MAX_ATTEMPTS
    assert account.next_attempt_at is None  # given up: the admin shows the last error
    assert (account.state, account.pending_action) == (AccountState.ACTIVE, AccountAction.BLOCK)


def test_a_refusal_is_not_retried(world, recording):
    _, account = _governed_guest_with_account(world, recording)
    recording.error = ConnectorError("The credentials were refused: 401", retryable=False)
    accounts_change(user_ids=[world.requester.pk], action=AccountAction.BLOCK)
    accounts_process()
    account.refresh_from_db()
    assert (account.attempts, account.next_attempt_at) == (1, None)
    assert "credentials were refused" in account.last_error


def test_one_backoff_curve_serves_target_systems_and_mail_servers():
    from governance.services.outbox import EMAIL_FIRST_RETRY

    assert [backoff(n).total_seconds() for n in (1, 2, 3, 9)] == [30, 60, 120, 3600]
    assert [backoff(n, first=EMAIL_FIRST_RETRY).total_seconds() for n in (1, 2, 3, 8)] == [
        60, 120, 240, 3600]
