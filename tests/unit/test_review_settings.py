"""A policy's review settings, read from Graph's JSON: what is accepted, what is refused with
a reason, and when the reviews start."""

from datetime import UTC, datetime, timedelta

import pytest

from governance.choices import ReviewerType, ReviewExpirationBehavior, ReviewRecurrence
from governance.models.review_settings import Reviewer, ReviewSettings, review_settings_from_graph
from governance.services.errors import InvalidInput

FIRST = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


def graph(**changes) -> dict:
    data = ReviewSettings(is_enabled=True, recurrence=ReviewRecurrence.QUARTERLY,
                          start_at=FIRST, is_self_review=True).to_graph()
    for key, value in changes.items():
        data[key] = value
    return data


def test_the_graph_json_reads_back_to_the_same_settings():
    settings = ReviewSettings(
        is_enabled=True, recurrence=ReviewRecurrence.MONTHLY, start_at=FIRST,
        duration=timedelta(days=10), primary=(Reviewer(ReviewerType.MANAGER),),
        fallback=(Reviewer(ReviewerType.SINGLE_USER, user_id=12),),
        is_justification_required=True, is_recommendation_enabled=False,
        expiration_behavior=ReviewExpirationBehavior.ACCEPT_RECOMMENDATION, auto_apply=False)
    data = settings.to_graph()
    assert data["schedule"]["recurrence"]["pattern"] == {"type": "absoluteMonthly", "interval": 1}
    assert data["schedule"]["expiration"]["duration"] == "P10D"
    assert data["fallbackReviewers"] == [{"@odata.type": "#microsoft.graph.singleUser",
                                          "userId": "12"}]
    assert review_settings_from_graph(data) == settings


def test_no_settings_or_disabled_mean_no_reviews():
    assert not review_settings_from_graph({}).is_enabled
    assert not review_settings_from_graph(graph(isEnabled=False)).is_enabled
    assert review_settings_from_graph({}).latest_start(FIRST + timedelta(days=400)) is None


def test_quarterly_starts_keep_the_day_of_the_month_where_it_exists():
    settings = review_settings_from_graph(graph())
    assert settings.latest_start(FIRST - timedelta(seconds=1)) is None
    assert settings.latest_start(FIRST) == FIRST
    # 31 January, 30 April (no 31st), 31 July, 31 October.
    assert settings.latest_start(datetime(2026, 5, 1, tzinfo=UTC)) == FIRST.replace(month=4,
                                                                                    day=30)
    assert settings.latest_start(datetime(2026, 11, 27, tzinfo=UTC)) == FIRST.replace(month=10)


@pytest.mark.parametrize(("changes", "code", "words"), [
    ({"isSelfReview": False}, "reviewersRequired", "who reviews"),
    ({"isSelfReview": "yes"}, "invalidReviewSettings", "true or false"),
    ({"expirationBehavior": "forget"}, "invalidExpirationBehavior", "keepAccess"),
    ({"schedule": {"startDateTime": "next monday"}}, "invalidStart", "2026-01-05T09:00:00Z"),
    ({"schedule": {"startDateTime": "2026-01-31T09:00:00Z",
                   "recurrence": {"pattern": {"type": "daily", "interval": 1}}}},
     "invalidRecurrence", "not daily"),
    ({"schedule": {"startDateTime": "2026-01-31T09:00:00Z", "expiration": {"duration": "P95D"},
                   "recurrence": {"pattern": {"type": "absoluteMonthly", "interval": 3}}}},
     "invalidDuration", "at most 89 days"),
    ({"schedule": {"startDateTime": "2026-01-31T09:00:00Z", "expiration": {"duration": "PT5H"},
                   "recurrence": {"pattern": {"type": "weekly", "interval": 1}}}},
     "invalidDuration", "whole number of days"),
    ({"primaryReviewers": [{"@odata.type": "#microsoft.graph.singleUser"}]},
     "invalidReviewer", "userId"),
    ({"primaryReviewers": [{"@odata.type": "#microsoft.graph.everyone"}]},
     "invalidReviewer", "not a kind of reviewer"),
])
def test_bad_settings_are_refused_with_the_reason(changes, code, words):
    with pytest.raises(InvalidInput) as refused:
        review_settings_from_graph(graph(**changes))
    assert (refused.value.code, refused.value.field) == (code, "review_settings")
    assert words in str(refused.value)
