"""The tenant's external-user lifecycle setting, changed by global administrators only."""

from datetime import timedelta

import pytest

from governance.choices import AccountState, ExternalUserLifecycleAction
from governance.models import AuditEvent, TenantSettings
from governance.services.errors import InvalidInput, NotAllowed
from governance.services.guests import tenant_settings_update
from governance.services.requests import request_remove
from tests.factories import UserFactory, delivered_assignment

DAYS = "days_until_external_user_deleted_after_blocked"


@pytest.fixture
def global_admin(world):
    return UserFactory(email="global@access.example", is_superuser=True)


def _update(actor, action=ExternalUserLifecycleAction.BLOCK_AND_DELETE, days=30):
    return tenant_settings_update(actor=actor, external_user_lifecycle_action=action,
                                  days_until_external_user_deleted_after_blocked=days)


def test_the_default_blocks_then_deletes_after_30_days(db):
    settings = TenantSettings.current()
    assert settings.external_user_lifecycle_action == ExternalUserLifecycleAction.BLOCK_AND_DELETE
    assert settings.days_until_external_user_deleted_after_blocked == 30


def test_a_global_administrator_changes_the_setting_and_it_is_audited(global_admin):
    _update(global_admin, days=7)
    settings = TenantSettings.current()
    assert settings.days_until_external_user_deleted_after_blocked == 7
    event = AuditEvent.objects.get(action="tenantSettings.changed")
    assert event.actor == global_admin
    assert event.before == {"externalUserLifecycleAction": "blockSignInAndDelete",
                            "daysUntilExternalUserDeletedAfterBlocked": 30}
    assert event.after == {"externalUserLifecycleAction": "blockSignInAndDelete",
                           "daysUntilExternalUserDeletedAfterBlocked": 7}
    _update(global_admin, days=7)
    assert AuditEvent.objects.filter(action="tenantSettings.changed").count() == 1


def test_guests_who_lose_access_afterwards_follow_the_new_setting(world, global_admin):
    _update(global_admin, days=7)
    assignment = delivered_assignment(world)
    request_remove(actor=world.requester, assignment_id=assignment.pk)
    world.requester.refresh_from_db()
    assert world.requester.account_state == AccountState.BLOCKED
    assert world.requester.delete_due_at - world.requester.blocked_at == timedelta(days=7)


def test_without_deletion_the_days_are_kept_for_later(global_admin):
    _update(global_admin, days=12)
    _update(global_admin, action=ExternalUserLifecycleAction.BLOCK, days=None)
    settings = TenantSettings.current()
    assert settings.external_user_lifecycle_action == ExternalUserLifecycleAction.BLOCK
    assert settings.days_until_external_user_deleted_after_blocked == 12


@pytest.mark.parametrize("days", [0, -1, 3661, None, "30"])
def test_the_days_must_be_a_number_from_1_to_3660(global_admin, assert_refused, days):
    error = assert_refused(lambda: _update(global_admin, days=days), InvalidInput,
                           "invalidInput", "days")
    assert error.field == DAYS
    assert TenantSettings.current().days_until_external_user_deleted_after_blocked == 30


def test_an_unknown_action_is_refused(global_admin, assert_refused):
    error = assert_refused(lambda: _update(global_admin, action="archive"), InvalidInput,
                           "invalidInput", "Choose what happens")
    assert error.field == "external_user_lifecycle_action"


@pytest.mark.parametrize("who", ["owner", "member", "connected organization administrator"])
def test_only_global_administrators_change_the_setting(world, assert_refused, who):
    from governance.choices import GlobalRole
    from governance.models import GlobalRoleAssignment

    if who == "connected organization administrator":
        person = UserFactory(email="partners@access.example")
        GlobalRoleAssignment.objects.create(user=person, role=GlobalRole.CONNECTED_ORG_ADMIN)
    else:
        person = getattr(world, who)
    assert_refused(lambda: _update(person, action=ExternalUserLifecycleAction.NONE), NotAllowed,
                   "notAllowed", "global administrators")
    assert TenantSettings.current().external_user_lifecycle_action == \
        ExternalUserLifecycleAction.BLOCK_AND_DELETE
