"""Access reviews as reviewers see them: which decisions a person may review, their pending
reviews with counts, and a review's results for the CSV export.

A person reviews a decision when they are one of its reviewers (themselves in a self-review,
their manager, a sponsor, a fallback reviewer) or a reviewer of the whole review (specific
people, group members, the package's managers); never their own access, unless the review is
a self-review. Every page, the admin and the services ask `reviewable_decisions`.
"""

from collections.abc import Iterator

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from governance import clock
from governance.choices import ReviewAppliedResult, ReviewDecisionValue, ReviewState
from governance.models import (
    AccessReview,
    DecisionReviewer,
    ReviewDecision,
    ReviewReviewer,
    User,
)

SELF_REVIEW = Q(review__settings__isSelfReview=True)


def reviewable_decisions(user: User) -> QuerySet[ReviewDecision]:
    """Every decision `user` may review, in any review, open or closed."""
    if not user.is_authenticated or not user.is_active:
        return ReviewDecision.objects.none()
    of_decision = DecisionReviewer.objects.filter(decision_id=OuterRef("pk"), user=user)
    of_review = ReviewReviewer.objects.filter(review_id=OuterRef("review_id"), user=user)
    return (ReviewDecision.objects.filter(Q(Exists(of_decision)) | Q(Exists(of_review)))
            .filter(SELF_REVIEW | ~Q(principal=user)))


def _count(queryset: QuerySet) -> Coalesce:
    counted = queryset.filter(review_id=OuterRef("pk")).order_by().values("review_id").annotate(
        n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def reviews_for_reviewer(user: User) -> QuerySet[AccessReview]:
    """Reviews in progress in which `user` reviews someone, soonest end first, with `total`
    (decisions they may review) and `to_review` (those nobody has answered yet)."""
    if not user.is_authenticated or not user.is_active:
        return AccessReview.objects.none()
    # Reviews that name the user first (both through an index), then their counts.
    named = (Q(Exists(ReviewReviewer.objects.filter(review_id=OuterRef("pk"), user=user)))
             | Q(Exists(DecisionReviewer.objects.filter(decision__review_id=OuterRef("pk"),
                                                         user=user))))
    mine = reviewable_decisions(user)
    return (AccessReview.objects
            .filter(named, state=ReviewState.IN_PROGRESS, end_at__gt=clock.now())
            .select_related("access_package__catalog", "policy")
            .annotate(total=_count(mine),
                      to_review=_count(mine.filter(decision=ReviewDecisionValue.NOT_REVIEWED)))
            .filter(total__gt=0)
            .order_by("end_at", "id"))


def decisions_for_reviewer(user: User, review_id: int) -> QuerySet[ReviewDecision]:
    """The decisions of one review that `user` may review, by the reviewed person's name."""
    return (reviewable_decisions(user).filter(review_id=review_id)
            .select_related("principal__connected_organization", "assignment", "reviewed_by")
            .order_by("principal__display_name", "principal__email", "id"))


def may_review(user: User, decision: ReviewDecision) -> bool:
    return reviewable_decisions(user).filter(pk=decision.pk).exists()


def reviewers_waiting(review: AccessReview) -> QuerySet[User]:
    """Active people with an email who still have a decision to answer in `review`."""
    self_review = bool((review.settings or {}).get("isSelfReview"))
    by_decision = DecisionReviewer.objects.filter(
        user_id=OuterRef("pk"), decision__review=review,
        decision__decision=ReviewDecisionValue.NOT_REVIEWED)
    waiting = ReviewDecision.objects.filter(review=review,
                                            decision=ReviewDecisionValue.NOT_REVIEWED)
    if not self_review:
        by_decision = by_decision.exclude(decision__principal_id=OuterRef("pk"))
        waiting = waiting.exclude(principal_id=OuterRef("pk"))
    by_review = ReviewReviewer.objects.filter(review=review, user_id=OuterRef("pk"))
    return (User.objects.filter(is_active=True).exclude(email="")
            .filter(Q(Exists(by_decision)) | (Q(Exists(by_review)) & Q(Exists(waiting)))))


def review_counts(review_id: int) -> dict[str, int]:
    """How many people a review has, what reviewers answered and what the end did."""
    values, results = ReviewDecisionValue, ReviewAppliedResult
    return ReviewDecision.objects.filter(review_id=review_id).aggregate(
        total=Count("pk"),
        approved=Count("pk", filter=Q(decision=values.APPROVE)),
        denied=Count("pk", filter=Q(decision=values.DENY)),
        dontKnow=Count("pk", filter=Q(decision=values.DONT_KNOW)),
        notReviewed=Count("pk", filter=Q(decision=values.NOT_REVIEWED)),
        kept=Count("pk", filter=Q(applied_result=results.KEPT)),
        removed=Count("pk", filter=Q(applied_result=results.REMOVED)),
        alreadyEnded=Count("pk", filter=Q(applied_result=results.ALREADY_ENDED)))


RESULT_COLUMNS = ("Name", "Email", "Decision", "Reviewed by", "Reviewed at", "Justification",
                  "Recommendation", "Recommendation reason", "Applied result", "Applied at")


def review_results(review: AccessReview) -> Iterator[tuple]:
    """One row per decision (RESULT_COLUMNS), for the CSV export; read in chunks, so that a
    review of 100,000 people does not sit in memory."""
    rows = (ReviewDecision.objects.filter(review=review)
            .order_by("principal__display_name", "principal__email", "id")
            .values_list("principal__display_name", "principal__email", "decision",
                         "reviewed_by__email", "reviewed_at", "justification", "recommendation",
                         "recommendation_reason", "applied_result", "applied_at"))
    for (name, email, decision, reviewer, reviewed_at, justification, recommendation, reason,
         applied, applied_at) in rows.iterator(chunk_size=2000):
        yield (name or email, email, decision, reviewer or "",
               reviewed_at.isoformat() if reviewed_at else "", justification, recommendation,
               reason, applied, applied_at.isoformat() if applied_at else "")
