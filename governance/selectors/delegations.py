"""Out of office: whom a person has named to stand in for them, and for whom they stand in."""

import zoneinfo
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from governance import clock
from governance.models import ApprovalDelegation, User


def zone_of(user: User) -> zoneinfo.ZoneInfo:
    """The zone in which this person's out-of-office dates are meant: their own, else the
    portal's. (The browser's zone, which pages may use, is not known to the services.)"""
    return (clock.zone_named(user.time_zone) or clock.zone_named(settings.TIME_ZONE)
            or zoneinfo.ZoneInfo("UTC"))


def day_start(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=zone)


def delegation_days(delegation: ApprovalDelegation, user: User) -> tuple[date, date]:
    """The first and last day (both inclusive) of a delegation, in the approver's zone."""
    zone = zone_of(user)
    last_moment = delegation.ends_at - timedelta(microseconds=1)
    return delegation.starts_at.astimezone(zone).date(), last_moment.astimezone(zone).date()


def delegations_of(user: User) -> QuerySet[ApprovalDelegation]:
    """This person's delegations that are running now or still to come, soonest first."""
    return (ApprovalDelegation.objects.filter(approver=user, ends_at__gt=clock.now())
            .select_related("delegate").order_by("starts_at", "id"))


def delegating_to(user: User) -> QuerySet[ApprovalDelegation]:
    """The delegations that make this person a stand-in right now."""
    now = clock.now()
    return (ApprovalDelegation.objects
            .filter(delegate=user, starts_at__lte=now, ends_at__gt=now, approver__is_active=True)
            .select_related("approver").order_by("ends_at", "id"))
