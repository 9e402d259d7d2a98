"""Access reviews of package assignments: one review per policy and period, one decision per
assignment in scope (Graph: accessReviewInstance and accessReviewInstanceDecisionItem).

A policy's `review_settings` (Graph's accessPackageAssignmentReviewSettings, as JSON) say
when reviews run and who reviews; each review keeps a copy of them as they were when it
started, so that a change of the policy never changes a review under way.
"""

from django.db import models

from governance.choices import (
    ReviewAppliedResult,
    ReviewDecisionValue,
    ReviewRecommendation,
    ReviewState,
)
from governance.models.visibility import CatalogOwned


class AccessReview(CatalogOwned):
    catalog_path = "access_package__catalog_id"

    policy = models.ForeignKey("governance.AssignmentPolicy", on_delete=models.PROTECT,
                               related_name="reviews")
    access_package = models.ForeignKey("governance.AccessPackage", on_delete=models.PROTECT,
                                       related_name="reviews")
    settings = models.JSONField(default=dict)
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    state = models.CharField(max_length=12, choices=ReviewState, default=ReviewState.IN_PROGRESS)
    created_at = models.DateTimeField()
    reminded_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-start_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["policy", "start_at"],
                                               name="one_review_per_policy_and_start")]
        indexes = [models.Index(fields=["state", "end_at"])]

    def __str__(self):
        return f"Review of {self.access_package} from {self.start_at:%d %b %Y}"


class ReviewReviewer(CatalogOwned):
    """Someone who reviews every decision of a review (specific users, group members, the
    package's managers)."""

    catalog_path = "review__access_package__catalog_id"

    review = models.ForeignKey(AccessReview, on_delete=models.CASCADE, related_name="reviewers")
    user = models.ForeignKey("governance.User", on_delete=models.CASCADE,
                             related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["review", "user"],
                                               name="one_review_reviewer_each")]


class ReviewDecision(CatalogOwned):
    """Whether one person keeps one assignment: the reviewer's answer, the recommendation,
    and what the end of the review did."""

    catalog_path = "review__access_package__catalog_id"

    review = models.ForeignKey(AccessReview, on_delete=models.CASCADE, related_name="decisions")
    assignment = models.ForeignKey("governance.Assignment", on_delete=models.CASCADE,
                                   related_name="review_decisions")
    principal = models.ForeignKey("governance.User", on_delete=models.CASCADE,
                                  related_name="review_decisions")
    decision = models.CharField(max_length=12, choices=ReviewDecisionValue,
                                default=ReviewDecisionValue.NOT_REVIEWED)
    justification = models.TextField(blank=True)
    reviewed_by = models.ForeignKey("governance.User", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    recommendation = models.CharField(max_length=12, choices=ReviewRecommendation,
                                      default=ReviewRecommendation.NOT_AVAILABLE)
    recommendation_reason = models.CharField(max_length=200, blank=True)
    applied_result = models.CharField(max_length=12, choices=ReviewAppliedResult, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["review_id", "id"]
        constraints = [models.UniqueConstraint(fields=["review", "assignment"],
                                               name="one_decision_per_review_and_assignment")]
        indexes = [models.Index(fields=["review", "decision"])]

    def __str__(self):
        return f"{self.principal} in {self.review}"


class DecisionReviewer(CatalogOwned):
    """Someone who reviews this one decision: the person themselves (self-review), their
    manager, their organisation's sponsors, or a fallback reviewer when they have none."""

    catalog_path = "decision__review__access_package__catalog_id"

    decision = models.ForeignKey(ReviewDecision, on_delete=models.CASCADE,
                                 related_name="reviewers")
    user = models.ForeignKey("governance.User", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["decision", "user"],
                                               name="one_decision_reviewer_each")]
        indexes = [models.Index(fields=["user", "decision"])]
