"""A policy's review settings: Graph's accessPackageAssignmentReviewSettings, read and checked.

Stored as Graph writes them (AssignmentPolicy.review_settings), so that the API passes them
through; the engine reads them through `ReviewSettings`:

    {"isEnabled": true, "isSelfReview": false, "isRecommendationEnabled": true,
     "isReviewerJustificationRequired": true, "expirationBehavior": "keepAccess",
     "autoApplyDecisionsEnabled": true,
     "schedule": {"startDateTime": "2026-01-05T09:00:00Z",
                  "expiration": {"duration": "P14D", "type": "afterDuration"},
                  "recurrence": {"pattern": {"type": "absoluteMonthly", "interval": 3}}},
     "primaryReviewers": [{"@odata.type": "#microsoft.graph.requestorManager",
                           "managerLevel": 1}],
     "fallbackReviewers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": "12"}]}

Recurrences: weekly is {"type": "weekly", "interval": 1}; monthly, quarterly, semi-annually
and annually are "absoluteMonthly" every 1, 3, 6 and 12 months.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import isodate
from dateutil.relativedelta import relativedelta
from django.utils.dateparse import parse_datetime

from governance.choices import ReviewerType, ReviewExpirationBehavior, ReviewRecurrence
from governance.services.errors import InvalidInput

FIELD = "review_settings"
# recurrence → (Graph pattern type, interval, step between two starts)
RECURRENCES = {
    ReviewRecurrence.WEEKLY: ("weekly", 1, relativedelta(weeks=1)),
    ReviewRecurrence.MONTHLY: ("absoluteMonthly", 1, relativedelta(months=1)),
    ReviewRecurrence.QUARTERLY: ("absoluteMonthly", 3, relativedelta(months=3)),
    ReviewRecurrence.SEMI_ANNUALLY: ("absoluteMonthly", 6, relativedelta(months=6)),
    ReviewRecurrence.ANNUALLY: ("absoluteMonthly", 12, relativedelta(months=12)),
}
# The shortest period of each recurrence: a review must end before the next one starts.
SHORTEST_DAYS = {ReviewRecurrence.WEEKLY: 7, ReviewRecurrence.MONTHLY: 28,
                 ReviewRecurrence.QUARTERLY: 89, ReviewRecurrence.SEMI_ANNUALLY: 181,
                 ReviewRecurrence.ANNUALLY: 365}
# Reviewers that need no id, and those that name a user or a group.
NEEDS_ID = {ReviewerType.SINGLE_USER: "userId", ReviewerType.GROUP_MEMBERS: "groupId"}
RECOMMENDATION_INACTIVE_DAYS = 30


@dataclass(frozen=True)
class Reviewer:
    type: str
    user_id: int | None = None
    group_id: int | None = None

    def to_graph(self) -> dict:
        data = {"@odata.type": f"#microsoft.graph.{self.type}"}
        if self.user_id is not None:
            data["userId"] = str(self.user_id)
        if self.group_id is not None:
            data["groupId"] = str(self.group_id)
        if self.type == ReviewerType.MANAGER:
            data["managerLevel"] = 1
        return data


@dataclass(frozen=True)
class ReviewSettings:
    is_enabled: bool = False
    recurrence: str = ReviewRecurrence.QUARTERLY
    start_at: datetime | None = None
    duration: timedelta = timedelta(days=14)
    is_self_review: bool = False
    primary: tuple[Reviewer, ...] = field(default_factory=tuple)
    fallback: tuple[Reviewer, ...] = field(default_factory=tuple)
    is_justification_required: bool = False
    is_recommendation_enabled: bool = True
    expiration_behavior: str = ReviewExpirationBehavior.KEEP_ACCESS
    auto_apply: bool = True

    def start_number(self, k: int) -> datetime:
        """The k-th start (0 is the first)."""
        return self.start_at + RECURRENCES[self.recurrence][2] * k

    def latest_start(self, now: datetime) -> datetime | None:
        """The last start at or before `now`, or None before the first one."""
        if not self.is_enabled or self.start_at is None or now < self.start_at:
            return None
        step_days = SHORTEST_DAYS[self.recurrence]
        k = max(int((now - self.start_at).days // step_days) - 1, 0)
        while self.start_number(k + 1) <= now:
            k += 1
        return self.start_number(k)

    def to_graph(self) -> dict:
        pattern, interval, _ = RECURRENCES[self.recurrence]
        return {
            "isEnabled": self.is_enabled, "isSelfReview": self.is_self_review,
            "isRecommendationEnabled": self.is_recommendation_enabled,
            "isReviewerJustificationRequired": self.is_justification_required,
            "expirationBehavior": self.expiration_behavior,
            "autoApplyDecisionsEnabled": self.auto_apply,
            "schedule": {
                "startDateTime": self.start_at.isoformat() if self.start_at else None,
                "expiration": {"type": "afterDuration",
                               "duration": isodate.duration_isoformat(self.duration)},
                "recurrence": {"pattern": {"type": pattern, "interval": interval}},
            },
            "primaryReviewers": [reviewer.to_graph() for reviewer in self.primary],
            "fallbackReviewers": [reviewer.to_graph() for reviewer in self.fallback],
        }


def _refuse(message: str, code: str = "invalidReviewSettings"):
    raise InvalidInput(message, field=FIELD, code=code)


def _flag(data: dict, key: str, default: bool) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        _refuse(f"“{key}” must be true or false.")
    return value


def _recurrence(schedule: dict) -> str:
    pattern = (schedule.get("recurrence") or {}).get("pattern") or {}
    wanted = (pattern.get("type"), pattern.get("interval", 1))
    for recurrence, (kind, interval, _) in RECURRENCES.items():
        if wanted == (kind, interval):
            return recurrence
    _refuse("The recurrence must be weekly, or absoluteMonthly every 1, 3, 6 or 12 months "
            f"(monthly, quarterly, semi-annually, annually); not {wanted[0]} every "
            f"{wanted[1]}.", "invalidRecurrence")
    raise AssertionError  # pragma: no cover


def _duration(schedule: dict, recurrence: str) -> timedelta:
    text = ((schedule.get("expiration") or {}).get("duration")) or "P14D"
    try:
        duration = isodate.parse_duration(text)
    except (isodate.ISO8601Error, TypeError, ValueError):
        _refuse(f"The review's duration must be an ISO 8601 duration in days, such as P14D; "
                f"“{text}” is not.", "invalidDuration")
    if not isinstance(duration, timedelta) or duration < timedelta(days=1) \
            or duration.seconds or duration.microseconds:
        _refuse("A review lasts a whole number of days, at least one (P1D).", "invalidDuration")
    if duration.days > SHORTEST_DAYS[recurrence]:
        _refuse(f"A {ReviewRecurrence(recurrence).label.lower()} review can last at most "
                f"{SHORTEST_DAYS[recurrence]} days, so that it ends before the next one "
                "starts.", "invalidDuration")
    return duration


def _start(schedule: dict) -> datetime:
    text = schedule.get("startDateTime")
    moment = parse_datetime(text) if isinstance(text, str) else None
    if moment is None or moment.tzinfo is None:
        _refuse("Give the first review's start as an ISO 8601 date and time with its time "
                "zone, such as 2026-01-05T09:00:00Z.", "invalidStart")
    return moment


def _reviewers(data: dict, key: str) -> tuple[Reviewer, ...]:
    items = data.get(key) or []
    if not isinstance(items, list):
        _refuse(f"“{key}” must be a list of reviewers.")
    reviewers = []
    for item in items:
        kind = str((item or {}).get("@odata.type", "")).removeprefix("#microsoft.graph.")
        if kind not in ReviewerType.values:
            _refuse(f"“{kind or item}” is not a kind of reviewer; use one of "
                    f"{', '.join(ReviewerType.values)}.", "invalidReviewer")
        ids = {}
        if kind in NEEDS_ID:
            raw = item.get(NEEDS_ID[kind])
            try:
                ids = {"user_id" if kind == ReviewerType.SINGLE_USER else "group_id": int(raw)}
            except (TypeError, ValueError):
                _refuse(f"A {kind} reviewer needs its {NEEDS_ID[kind]}.", "invalidReviewer")
        reviewers.append(Reviewer(kind, **ids))
    return tuple(reviewers)


def review_settings_from_graph(data: dict | None) -> ReviewSettings:
    """The settings in `data`, checked; {} means no reviews.

    :raises InvalidInput: naming what is wrong, on the field review_settings.
    """
    if not data:
        return ReviewSettings()
    if not isinstance(data, dict):
        _refuse("The review settings must be a JSON object.")
    if not _flag(data, "isEnabled", False):
        return ReviewSettings()
    schedule = data.get("schedule") or {}
    if not isinstance(schedule, dict):
        _refuse("“schedule” must be an object.")
    start_at = _start(schedule)
    recurrence = _recurrence(schedule)
    behavior = data.get("expirationBehavior", ReviewExpirationBehavior.KEEP_ACCESS)
    if behavior not in ReviewExpirationBehavior.values:
        _refuse(f"“expirationBehavior” must be one of "
                f"{', '.join(ReviewExpirationBehavior.values)}.", "invalidExpirationBehavior")
    settings = ReviewSettings(
        is_enabled=True, recurrence=recurrence, start_at=start_at,
        duration=_duration(schedule, recurrence),
        is_self_review=_flag(data, "isSelfReview", False),
        primary=_reviewers(data, "primaryReviewers"),
        fallback=_reviewers(data, "fallbackReviewers"),
        is_justification_required=_flag(data, "isReviewerJustificationRequired", False),
        is_recommendation_enabled=_flag(data, "isRecommendationEnabled", True),
        expiration_behavior=behavior,
        auto_apply=_flag(data, "autoApplyDecisionsEnabled", True))
    if not settings.is_self_review and not settings.primary:
        _refuse("Say who reviews: self-review, or at least one primary reviewer.",
                "reviewersRequired")
    return settings
