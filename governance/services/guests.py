"""The external-user lifecycle: governed guests who lose their last assignment are blocked,
then deleted after the tenant's number of days; a new assignment unblocks them. Global
administrators choose that setting (`tenant_settings_update`)."""

from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AccountAction,
    AccountState,
    ExternalUserLifecycleAction,
    SubjectLifecycle,
    UserType,
)
from governance.connectors import Person, get_connector
from governance.models import Assignment, TenantSettings, User
from governance.selectors.permissions import is_global_admin
from governance.services.accounts import accounts_change
from governance.services.audit import audit_record, audit_record_many
from governance.services.errors import InvalidInput, NotAllowed
from governance.services.internal.bulk import ids_in
from governance.services.outbox import notify


def guest_on_assignment(*, user_id: int, actor: User | None) -> None:
    """A guest onboarded through a package becomes governed; a blocked one is unblocked."""
    user = User.objects.select_for_update().get(pk=user_id)
    fields = []
    if user.user_type == UserType.GUEST and user.subject_lifecycle == SubjectLifecycle.NOT_DEFINED:
        user.subject_lifecycle = SubjectLifecycle.GOVERNED
        fields.append("subject_lifecycle")
    if user.account_state == AccountState.BLOCKED:
        before = {"accountState": user.account_state, "blockedAt": user.blocked_at.isoformat()}
        user.account_state, user.is_active = AccountState.ACTIVE, True
        user.blocked_at = user.delete_due_at = None
        fields += ["account_state", "is_active", "blocked_at", "delete_due_at"]
        audit_record(actor=actor, action="user.unblocked", obj=user, before=before,
                     after={"accountState": user.account_state})
        accounts_change(user_ids=[user.pk], action=AccountAction.UNBLOCK)
    if fields:
        user.save(update_fields=fields)


def _without_active_assignment():
    return ~Exists(Assignment.objects.filter(target_id=OuterRef("pk"),
                                             state__in=ASSIGNMENT_ACTIVE))


def guests_after_access_lost(*, user_ids, actor: User | None = None) -> int:
    """Apply the tenant setting to governed guests among `user_ids` who now hold nothing.

    Runs inside the caller's transaction. Users locked elsewhere are skipped: the guest sweep
    finds them a minute later.
    """
    settings = TenantSettings.current()
    if settings.external_user_lifecycle_action == ExternalUserLifecycleAction.NONE:
        return 0
    now = clock.now()
    users = list(User.objects.filter(
        _without_active_assignment(), pk__in=ids_in(user_ids), user_type=UserType.GUEST,
        subject_lifecycle=SubjectLifecycle.GOVERNED, account_state=AccountState.ACTIVE,
    ).select_for_update(skip_locked=True))
    if not users:
        return 0
    delete_due = None
    if settings.external_user_lifecycle_action == ExternalUserLifecycleAction.BLOCK_AND_DELETE:
        delete_due = now + timedelta(days=settings.days_until_external_user_deleted_after_blocked)
    User.objects.filter(pk__in=[user.pk for user in users]).update(
        account_state=AccountState.BLOCKED, is_active=False, blocked_at=now,
        delete_due_at=delete_due)
    audit_record_many(actor=actor, action="user.blocked", object_type="user", entries=[
        (user.pk, {"accountState": AccountState.ACTIVE},
         {"accountState": AccountState.BLOCKED,
          "deleteDueAt": delete_due and delete_due.isoformat()},
         {"reason": "The last access package assignment ended."}) for user in users])
    accounts_change(user_ids=[user.pk for user in users], action=AccountAction.BLOCK)
    for user in users:
        notify(topic="guest_blocked", recipients=[user], payload={"user_id": user.pk},
               dedupe_key=f"guest_blocked:{now.isoformat()}")
    return len(users)


def guests_block_orphaned(*, batch_size: int = 500) -> int:
    """Catch up on governed guests who hold nothing but were not blocked (a lost task, say)."""
    with transaction.atomic():
        had_access = Exists(Assignment.objects.filter(target_id=OuterRef("pk")))
        ids = list(User.objects.filter(
            _without_active_assignment(), had_access, user_type=UserType.GUEST,
            subject_lifecycle=SubjectLifecycle.GOVERNED, account_state=AccountState.ACTIVE,
        ).values_list("pk", flat=True)[:batch_size])
        return guests_after_access_lost(user_ids=ids) if ids else 0


def guests_delete_due(*, batch_size: int = 200) -> int:
    """Delete blocked guests whose deletion date has come and who still hold nothing.

    The row stays (requests and the audit log refer to it), without sign-in, password or
    group memberships.
    """
    now = clock.now()
    with transaction.atomic():
        users = list(User.objects.filter(
            _without_active_assignment(), account_state=AccountState.BLOCKED,
            delete_due_at__lte=now).select_for_update(skip_locked=True)[:batch_size])
        for user in users:
            get_connector("local").delete_user(Person(user.pk, user.email))
            user.account_state, user.deleted_at, user.is_active = AccountState.DELETED, now, False
            user.set_unusable_password()
            user.save(update_fields=["account_state", "deleted_at", "is_active", "password"])
            audit_record(actor=None, action="user.deleted", obj=user,
                         before={"accountState": AccountState.BLOCKED},
                         after={"accountState": AccountState.DELETED},
                         details={"blockedAt": user.blocked_at.isoformat()})
        accounts_change(user_ids=[user.pk for user in users], action=AccountAction.DELETE)
    return len(users)


DELETION_DAYS_MAX = 3660


def _settings_snapshot(settings: TenantSettings) -> dict:
    return {"externalUserLifecycleAction": settings.external_user_lifecycle_action,
            "daysUntilExternalUserDeletedAfterBlocked":
                settings.days_until_external_user_deleted_after_blocked}


def tenant_settings_update(*, actor: User | None, external_user_lifecycle_action: str,
                           days_until_external_user_deleted_after_blocked: int | None
                           ) -> TenantSettings:
    """Change what happens to governed guests who lose their last assignment.

    Applies to guests blocked from now on; those blocked already keep their deletion date.
    Without deletion, `days_until_external_user_deleted_after_blocked` may be None: the
    stored number is kept, so that switching back to deletion finds it.
    """
    if actor is None or not is_global_admin(actor):
        raise NotAllowed("Only global administrators change the tenant settings.")
    action = external_user_lifecycle_action
    if action not in ExternalUserLifecycleAction.values:
        raise InvalidInput("Choose what happens to external users who lose their last access "
                           "package.", field="external_user_lifecycle_action")
    days = days_until_external_user_deleted_after_blocked
    if days is None and action == ExternalUserLifecycleAction.BLOCK_AND_DELETE:
        raise InvalidInput("Give the number of days between blocking and deletion.",
                           field="days_until_external_user_deleted_after_blocked")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                             or not 1 <= days <= DELETION_DAYS_MAX):
        raise InvalidInput(f"The number of days before deletion must be between 1 and "
                           f"{DELETION_DAYS_MAX}.",
                           field="days_until_external_user_deleted_after_blocked")
    with transaction.atomic():
        TenantSettings.current()
        settings = TenantSettings.objects.select_for_update().get(pk=1)
        before = _settings_snapshot(settings)
        if days is None:
            days = settings.days_until_external_user_deleted_after_blocked
        settings.external_user_lifecycle_action = action
        settings.days_until_external_user_deleted_after_blocked = days
        after = _settings_snapshot(settings)
        if after != before:
            settings.save(update_fields=["external_user_lifecycle_action",
                                         "days_until_external_user_deleted_after_blocked"])
            audit_record(actor=actor, action="tenantSettings.changed", obj=settings,
                         before=before, after=after)
    return settings
