"""Packages held by several people, review settings on their policy, and reviews built by
hand (for the services that come after the start), for the access review tests."""

from datetime import UTC, datetime, timedelta

from governance import clock
from governance.choices import (
    ExpirationType,
    ReviewDecisionValue,
    ReviewerType,
    ReviewRecommendation,
    ReviewRecurrence,
)
from governance.models import (
    AccessReview,
    Assignment,
    DecisionReviewer,
    ReviewDecision,
    ReviewReviewer,
    User,
)
from governance.models.review_settings import Reviewer, ReviewSettings
from governance.services.delivery import deliveries_process
from governance.services.requests import request_submit
from tests.factories import UserFactory, World, open_package

# Monday 5 January 2026, 09:00 UTC: the first quarterly review starts.
FIRST_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def holders(world: World, people: list[User], **policy_fields):
    """A package without expiry that each of `people` requested and holds, delivered:
    (package, policy, {person: assignment})."""
    package, policy = open_package(world, expiration_type=ExpirationType.NO_EXPIRATION,
                                   **policy_fields)
    for person in people:
        request_submit(requestor=person, access_package_id=package.pk)
    deliveries_process()
    assignments = Assignment.objects.filter(access_package=package).select_related("target")
    return package, policy, {assignment.target: assignment for assignment in assignments}


def reviews_on(policy, **fields) -> ReviewSettings:
    """Quarterly reviews of `policy` from FIRST_START for 14 days; `fields` change them."""
    settings = ReviewSettings(**({"is_enabled": True, "recurrence": ReviewRecurrence.QUARTERLY,
                                  "start_at": FIRST_START, "duration": timedelta(days=14)}
                                 | fields))
    policy.review_settings = settings.to_graph()
    policy.save(update_fields=["review_settings"])
    return settings


def review_by_hand(policy, assignments, *, reviewers=None, whole_review=(),
                   recommendations=None, start_at=None, days=14) -> AccessReview:
    """A review in progress of `assignments` under `policy`'s review settings.

    `reviewers` maps an assignment to the people who review its decision, `whole_review`
    reviews every decision, `recommendations` maps an assignment to (recommendation, reason).
    """
    start_at = start_at or clock.now()
    review = AccessReview.objects.create(
        policy=policy, access_package=policy.access_package, settings=policy.review_settings,
        start_at=start_at, end_at=start_at + timedelta(days=days), created_at=clock.now())
    for assignment in assignments:
        recommendation, reason = (recommendations or {}).get(
            assignment, (ReviewRecommendation.NOT_AVAILABLE, ""))
        decision = ReviewDecision.objects.create(
            review=review, assignment=assignment, principal=assignment.target,
            decision=ReviewDecisionValue.NOT_REVIEWED, recommendation=recommendation,
            recommendation_reason=reason)
        for person in (reviewers or {}).get(assignment, []):
            DecisionReviewer.objects.create(decision=decision, user=person)
    for person in whole_review:
        ReviewReviewer.objects.create(review=review, user=person)
    return review


def decision_of(review: AccessReview, person: User) -> ReviewDecision:
    return ReviewDecision.objects.get(review=review, principal=person)


def decisions_state(review: AccessReview) -> list[tuple]:
    """Everything a refused call must leave as it was in the review's decisions."""
    return list(ReviewDecision.objects.filter(review=review).order_by("id").values_list(
        "id", "decision", "justification", "reviewed_by_id", "reviewed_at", "applied_result"))


APPROVE, DENY, DONT_KNOW, NOT_REVIEWED = (ReviewDecisionValue.APPROVE, ReviewDecisionValue.DENY,
                                          ReviewDecisionValue.DONT_KNOW,
                                          ReviewDecisionValue.NOT_REVIEWED)
INACTIVE = (ReviewRecommendation.DENY, "Has not signed in for 30 days")
ACTIVE = (ReviewRecommendation.APPROVE, "Signed in within the last 30 days")


def review_team(world):
    """Three people hold a package; the approver is their manager and reviews each of them,
    the owner reviews the whole review (and holds the package too)."""
    colleague = UserFactory(email="colleague@access.example", display_name="Colleague")
    people = [world.requester, world.member, colleague, world.owner]
    package, policy, assignments = holders(world, people)
    reviews_on(policy, primary=(Reviewer(ReviewerType.MANAGER),
                                Reviewer(ReviewerType.SINGLE_USER, user_id=world.owner.pk)))
    review = review_by_hand(
        policy, assignments.values(),
        reviewers={assignments[person]: [world.approver] for person in people[:3]},
        whole_review=[world.owner],
        recommendations={assignments[world.requester]: INACTIVE,
                         assignments[world.member]: ACTIVE})
    return review, assignments, colleague


def settings_change(review: AccessReview, **graph):
    review.settings = {**review.settings, **graph}
    review.save(update_fields=["settings"])
