from datetime import timedelta

import time_machine
from django.test import Client

from governance.choices import AccountState, ExternalUserLifecycleAction, SubjectLifecycle
from governance.models import Assignment, AuditEvent, GroupMembership, OutboxMessage, TenantSettings
from governance.selectors.directory import sign_in_refusal_reason
from governance.services.delivery import deliveries_process
from governance.services.guests import guests_block_orphaned, guests_delete_due
from governance.services.requests import request_admin_add, request_remove
from tests.factories import PackageFactory, PolicyFactory, delivered_assignment


def _lifecycle(action, days=30):
    settings = TenantSettings.current()
    settings.external_user_lifecycle_action = action
    settings.days_until_external_user_deleted_after_blocked = days
    settings.save()


def _lose_access(world):
    assignment = delivered_assignment(world)
    request_remove(actor=world.requester, assignment_id=assignment.pk)
    world.requester.refresh_from_db()
    return assignment


def test_guest_onboarded_through_a_package_becomes_governed(world):
    assert world.requester.subject_lifecycle == SubjectLifecycle.NOT_DEFINED
    delivered_assignment(world)
    world.requester.refresh_from_db()
    assert world.requester.subject_lifecycle == SubjectLifecycle.GOVERNED


def test_block_sign_in_blocks_without_a_deletion_date(world):
    _lifecycle(ExternalUserLifecycleAction.BLOCK)
    _lose_access(world)
    assert world.requester.account_state == AccountState.BLOCKED
    assert not world.requester.is_active
    assert world.requester.blocked_at is not None
    assert world.requester.delete_due_at is None
    with time_machine.travel(world.requester.blocked_at + timedelta(days=400), tick=False):
        assert guests_delete_due() == 0
    assert AuditEvent.objects.filter(action="user.blocked").count() == 1
    assert OutboxMessage.objects.filter(topic="guest_blocked").count() == 1


def test_block_and_delete_deletes_after_the_configured_days(world):
    _lifecycle(ExternalUserLifecycleAction.BLOCK_AND_DELETE, days=7)
    _lose_access(world)
    deliveries_process()
    guest = world.requester
    assert guest.delete_due_at == guest.blocked_at + timedelta(days=7)
    with time_machine.travel(guest.blocked_at + timedelta(days=6, hours=23), tick=False):
        assert guests_delete_due() == 0
    with time_machine.travel(guest.blocked_at + timedelta(days=7, minutes=1), tick=False):
        assert guests_delete_due() == 1
        assert guests_delete_due() == 0
    guest.refresh_from_db()
    assert guest.account_state == AccountState.DELETED
    assert not guest.has_usable_password()
    assert AuditEvent.objects.filter(action="user.deleted", object_id=str(guest.pk)).count() == 1


def test_deletion_removes_memberships_given_outside_packages(world):
    _lose_access(world)
    world.other_group.members.add(world.requester)
    with time_machine.travel(world.requester.delete_due_at + timedelta(minutes=1), tick=False):
        guests_delete_due()
    assert not GroupMembership.objects.filter(user=world.requester).exists()


def test_setting_none_leaves_the_guest_active(world):
    _lifecycle(ExternalUserLifecycleAction.NONE)
    _lose_access(world)
    assert world.requester.account_state == AccountState.ACTIVE
    assert guests_block_orphaned() == 0
    assert not AuditEvent.objects.filter(action="user.blocked").exists()


def test_guest_still_holding_another_package_is_not_blocked(world):
    request_admin_add(actor=world.owner, access_package_id=world.package.pk,
                      policy_id=world.policy.pk, target=world.outsider)
    first = Assignment.objects.get(target=world.outsider)
    other = PackageFactory(catalog=world.catalog)
    policy = PolicyFactory(access_package=other)
    request_admin_add(actor=world.owner, access_package_id=other.pk, policy_id=policy.pk,
                      target=world.outsider)
    request_remove(actor=world.owner, assignment_id=first.pk, as_admin=True)
    world.outsider.refresh_from_db()
    assert world.outsider.account_state == AccountState.ACTIVE


def test_members_are_never_blocked(world):
    request_admin_add(actor=world.owner, access_package_id=world.package.pk,
                      policy_id=world.policy.pk, target=world.member)
    assignment = world.member.assignments.get()
    request_remove(actor=world.owner, assignment_id=assignment.pk, as_admin=True)
    world.member.refresh_from_db()
    assert world.member.account_state == AccountState.ACTIVE


def test_new_assignment_unblocks_the_guest(world):
    _lose_access(world)
    assert world.requester.account_state == AccountState.BLOCKED
    request_admin_add(actor=world.owner, access_package_id=world.package.pk,
                      policy_id=world.policy.pk, target=world.requester)
    world.requester.refresh_from_db()
    assert world.requester.account_state == AccountState.ACTIVE
    assert world.requester.is_active
    assert (world.requester.blocked_at, world.requester.delete_due_at) == (None, None)
    with time_machine.travel(world.requester.date_joined + timedelta(days=400), tick=False):
        assert guests_delete_due() == 0
    assert AuditEvent.objects.filter(action="user.unblocked", actor=world.owner).count() == 1


def test_sweep_blocks_guests_left_without_access(world):
    _lifecycle(ExternalUserLifecycleAction.NONE)
    _lose_access(world)
    _lifecycle(ExternalUserLifecycleAction.BLOCK)
    assert guests_block_orphaned() == 1
    assert guests_block_orphaned() == 0
    world.requester.refresh_from_db()
    assert world.requester.account_state == AccountState.BLOCKED


def test_blocked_guest_is_refused_sign_in_and_told_why(world):
    from allauth.account.models import EmailAddress

    # Email verification is mandatory: a verified address signs straight in.
    EmailAddress.objects.create(user=world.requester, email=world.requester.email,
                                verified=True, primary=True)
    client = Client()
    response = client.post("/accounts/login/", {"login": world.requester.email,
                                                "password": "pw-for-tests-1"})
    assert response.status_code == 302 and response.url == "/"
    client.logout()
    _lose_access(world)
    reason = sign_in_refusal_reason(world.requester)
    assert "Sign-in is blocked" in reason and "will be deleted on" in reason
    response = client.post("/accounts/login/", {"login": world.requester.email,
                                                "password": "pw-for-tests-1"})
    assert response.status_code == 302
    assert response.url == "/accounts/inactive/"
    page = client.get(response.url)
    assert reason in page.content.decode()
    assert "_auth_user_id" not in client.session
