"""External users as administrators see them: where each stands in the lifecycle, and what
comes next (behaviour 10, and "guest cleanup that nobody can predict")."""

from datetime import timedelta

from django.db.models import Count, Max, Q, QuerySet, Value
from django.utils import timezone
from django.utils.formats import date_format

from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AccountState,
    ExternalUserLifecycleAction,
    SubjectLifecycle,
    UserType,
)
from governance.models import TenantSettings, User

_ACTIVE = Q(assignments__state__in=ASSIGNMENT_ACTIVE)


def external_users(queryset: QuerySet[User] | None = None) -> QuerySet[User]:
    """Guests with their organization, the number of active assignments, how many of those
    never expire, when the last one that does expire ends, and the tenant's lifecycle setting
    (read once here) for lifecycle_outlook."""
    queryset = User.objects.all() if queryset is None else queryset
    settings = TenantSettings.current()
    return (queryset.filter(user_type=UserType.GUEST)
            .select_related("connected_organization")
            .annotate(active_assignments=Count("assignments", filter=_ACTIVE),
                      endless_assignments=Count("assignments", filter=_ACTIVE & Q(
                          assignments__expires_at__isnull=True)),
                      access_ends_at=Max("assignments__expires_at", filter=_ACTIVE),
                      lifecycle_action=Value(settings.external_user_lifecycle_action),
                      deletion_days=Value(
                          settings.days_until_external_user_deleted_after_blocked)))


def _day(moment) -> str:
    return date_format(timezone.localtime(moment), "DATE_FORMAT")


def lifecycle_outlook(user: User) -> str:
    """What will happen to this guest's account, in a sentence; `user` comes from
    external_users(), whose annotations this reads."""
    if user.account_state == AccountState.DELETED:
        return f"Deleted on {_day(user.deleted_at)}." if user.deleted_at else "Deleted."
    if user.account_state == AccountState.BLOCKED:
        if user.delete_due_at:
            return (f"Blocked; deleted on {_day(user.delete_due_at)} unless assigned access "
                    "again.")
        return "Blocked until assigned access again."
    if user.subject_lifecycle != SubjectLifecycle.GOVERNED:
        return "Not governed: keeps the account when access ends."
    action = user.lifecycle_action
    if action == ExternalUserLifecycleAction.NONE:
        return "Keeps the account when access ends (tenant setting: nothing)."
    days = user.deletion_days
    then_delete = (f", deleted {days} days later"
                   if action == ExternalUserLifecycleAction.BLOCK_AND_DELETE else "")
    if not user.active_assignments:
        return f"Blocked at the next guest sweep{then_delete}."
    if user.endless_assignments:
        return "Keeps the account: an assignment does not expire."
    ends = user.access_ends_at
    if action == ExternalUserLifecycleAction.BLOCK_AND_DELETE:
        return (f"Blocked on {_day(ends)} when access ends, deleted on "
                f"{_day(ends + timedelta(days=days))}.")
    return f"Blocked on {_day(ends)} when access ends."
