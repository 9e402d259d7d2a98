"""What a catalog's dashboard shows: counts, requests per week, time to approve, and the
assignments expiring soon. Four queries, however much the catalog holds (plus one for the
person's catalog roles, which the permission selectors cache on the user).

Weeks and days are those of the current time zone (the viewer's own, set by the portal's
middleware).
"""

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, TruncDate, TruncWeek
from django.utils import timezone

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    CatalogRole,
    DeliveryState,
    RequestState,
    RequestType,
    StageState,
)
from governance.models import (
    AccessPackage,
    Assignment,
    AssignmentRequest,
    Catalog,
    CatalogRoleAssignment,
    RoleDelivery,
    User,
)
from governance.selectors.visibility import catalogs_visible_to

WEEKS = 12
APPROVAL_DAYS = 90
EXPIRY_DAYS = 30
# Requests that people make in My Access (new access, extensions, for a direct report); not
# administrators' direct assignments, nor removals, nor the system's own.
ASKED_TYPES = [RequestType.USER_ADD, RequestType.USER_UPDATE, RequestType.ON_BEHALF_ADD]
PENDING_STATES = [RequestState.SUBMITTED, RequestState.PENDING_APPROVAL]
# Upper bounds of the time-to-approve buckets; the last bucket has none.
APPROVAL_BUCKETS = [
    ("Under 1 hour", timedelta(hours=1)),
    ("1 to 8 hours", timedelta(hours=8)),
    ("8 to 24 hours", timedelta(days=1)),
    ("1 to 3 days", timedelta(days=3)),
    ("3 to 7 days", timedelta(days=7)),
    ("7 to 14 days", timedelta(days=14)),
    ("14 days or more", None),
]


@dataclass(frozen=True)
class Counts:
    packages: int
    active_assignments: int
    pending_requests: int
    delivery_failures: int


@dataclass(frozen=True)
class ApprovalTimes:
    """Submit to final approval, for the requests finally approved in the last 90 days."""

    count: int
    median: timedelta | None
    buckets: list[tuple[str, int]]


@dataclass(frozen=True)
class CatalogDashboard:
    catalog: Catalog
    counts: Counts
    requests_per_week: list[tuple[date, int]]  # Monday of each week, oldest first
    approval_times: ApprovalTimes
    expiring_per_day: list[tuple[date, int]]  # today first
    today: date


def catalogs_with_dashboard(user: User) -> QuerySet[Catalog]:
    """The catalogs whose dashboard `user` may open: those they may read."""
    return catalogs_visible_to(user).order_by("display_name", "id")


def catalogs_without_owner(user: User) -> QuerySet[Catalog]:
    """The catalogs `user` may read that have no active owner (the last one left, or there
    never was one): nobody but a global administrator manages them now. One query."""
    owned = CatalogRoleAssignment.objects.filter(catalog=OuterRef("pk"), role=CatalogRole.OWNER,
                                                 user__is_active=True)
    return catalogs_visible_to(user).filter(~Exists(owned)).order_by("display_name", "id")


def _count(queryset: QuerySet, catalog_path: str) -> Coalesce:
    """A subquery counting `queryset`'s rows in the outer catalog."""
    rows = (queryset.filter(**{catalog_path: OuterRef("pk")}).order_by()
            .values(catalog_path).annotate(n=Count("*")).values("n"))
    return Coalesce(Subquery(rows), Value(0))


def _catalog_with_counts(user: User, catalog_id: int) -> Catalog | None:
    return catalogs_with_dashboard(user).filter(pk=catalog_id).annotate(
        package_count=_count(AccessPackage.objects.all(), "catalog"),
        active_assignment_count=_count(Assignment.objects.filter(state__in=ASSIGNMENT_ACTIVE),
                                       "access_package__catalog"),
        pending_request_count=_count(AssignmentRequest.objects.filter(
            state__in=PENDING_STATES), "access_package__catalog"),
        delivery_failure_count=_count(RoleDelivery.objects.filter(state=DeliveryState.FAILED),
                                      "assignment__access_package__catalog"),
    ).first()


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _requests_per_week(catalog_id: int, today: date) -> list[tuple[date, int]]:
    first = today - timedelta(days=today.weekday(), weeks=WEEKS - 1)
    rows = (AssignmentRequest.objects
            .filter(access_package__catalog_id=catalog_id, request_type__in=ASKED_TYPES,
                    created_at__gte=_midnight(first))
            .annotate(week=TruncWeek("created_at", tzinfo=timezone.get_current_timezone()))
            .order_by().values("week").annotate(n=Count("id")).values_list("week", "n"))
    counts = {timezone.localtime(week).date(): n for week, n in rows}
    return [(week, counts.get(week, 0))
            for week in (first + timedelta(weeks=n) for n in range(WEEKS))]


def _approval_times(catalog_id: int, now: datetime) -> ApprovalTimes:
    """A request is finally approved when every one of its stages is: at its last stage's
    decision. Requests that needed no approval are not counted."""
    rows = (AssignmentRequest.objects
            .filter(access_package__catalog_id=catalog_id)
            .annotate(stage_count=Count("stages"),
                      approved_count=Count("stages", filter=Q(stages__state=StageState.APPROVED)),
                      approved_at=Max("stages__completed_at"))
            .filter(stage_count__gt=0, approved_count=F("stage_count"),
                    approved_at__gte=now - timedelta(days=APPROVAL_DAYS))
            .order_by().values_list("created_at", "approved_at"))
    durations = sorted(max(approved - created, timedelta(0)) for created, approved in rows)
    buckets = [0] * len(APPROVAL_BUCKETS)
    for duration in durations:
        for index, (_, bound) in enumerate(APPROVAL_BUCKETS):
            if bound is None or duration < bound:
                buckets[index] += 1
                break
    return ApprovalTimes(
        count=len(durations),
        median=statistics.median(durations) if durations else None,
        buckets=[(label, count) for (label, _), count in zip(APPROVAL_BUCKETS, buckets,
                                                             strict=True)])


def _expiring_per_day(catalog_id: int, now: datetime, today: date) -> list[tuple[date, int]]:
    """Active assignments ending from now to the end of the 30th day (today is the first)."""
    end = _midnight(today + timedelta(days=EXPIRY_DAYS))
    rows = (Assignment.objects
            .filter(access_package__catalog_id=catalog_id, state__in=ASSIGNMENT_ACTIVE,
                    expires_at__gte=now, expires_at__lt=end)
            .annotate(day=TruncDate("expires_at", tzinfo=timezone.get_current_timezone()))
            .order_by().values("day").annotate(n=Count("id")).values_list("day", "n"))
    counts = dict(rows)
    return [(day, counts.get(day, 0))
            for day in (today + timedelta(days=n) for n in range(EXPIRY_DAYS))]


def catalog_dashboard(user: User, catalog_id: int) -> CatalogDashboard | None:
    """The dashboard of a catalog `user` may read; None for any other (or none at all)."""
    catalog = _catalog_with_counts(user, catalog_id)
    if catalog is None:
        return None
    now = clock.now()
    today = timezone.localdate(now)
    return CatalogDashboard(
        catalog=catalog,
        counts=Counts(packages=catalog.package_count,
                      active_assignments=catalog.active_assignment_count,
                      pending_requests=catalog.pending_request_count,
                      delivery_failures=catalog.delivery_failure_count),
        requests_per_week=_requests_per_week(catalog.pk, today),
        approval_times=_approval_times(catalog.pk, now),
        expiring_per_day=_expiring_per_day(catalog.pk, now, today),
        today=today,
    )
