"""The choices of access reviews of package assignments (Graph: accessReviewInstance,
decision items)."""

from django.db import models

__all__ = ["ReviewAppliedResult", "ReviewDecisionValue", "ReviewerType",
           "ReviewExpirationBehavior", "ReviewRecommendation", "ReviewRecurrence", "ReviewState"]


class ReviewRecurrence(models.TextChoices):
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    SEMI_ANNUALLY = "semiAnnually", "Semi-annually"
    ANNUALLY = "annually", "Annually"


class ReviewerType(models.TextChoices):
    """Who reviews (primaryReviewers / fallbackReviewers); self-review is isSelfReview."""

    SINGLE_USER = "singleUser", "A specific user"
    GROUP_MEMBERS = "groupMembers", "Members of a group"
    MANAGER = "requestorManager", "The person's manager"
    SPONSORS = "internalSponsors", "The sponsors of the person's organisation"
    PACKAGE_MANAGERS = "accessPackageManagers", "The package's managers"


class ReviewExpirationBehavior(models.TextChoices):
    """What happens to access nobody reviewed (Graph: expirationBehavior)."""

    KEEP_ACCESS = "keepAccess", "Keep access"
    REMOVE_ACCESS = "removeAccess", "Remove access"
    ACCEPT_RECOMMENDATION = "acceptAccessRecommendation", "Take the recommendation"


class ReviewState(models.TextChoices):
    IN_PROGRESS = "InProgress", "In progress"
    COMPLETED = "Completed", "Completed"
    APPLIED = "Applied", "Applied"


class ReviewDecisionValue(models.TextChoices):
    APPROVE = "Approve", "Approve"
    DENY = "Deny", "Deny"
    DONT_KNOW = "DontKnow", "Don't know"
    NOT_REVIEWED = "NotReviewed", "Not reviewed"


class ReviewRecommendation(models.TextChoices):
    APPROVE = "Approve", "Approve"
    DENY = "Deny", "Deny"
    NOT_AVAILABLE = "NotAvailable", "No recommendation"


class ReviewAppliedResult(models.TextChoices):
    """What the end of the review did to the assignment."""

    NOT_APPLIED = "", "Not applied yet"
    KEPT = "kept", "Access kept"
    REMOVED = "removed", "Access removed"
    ALREADY_ENDED = "alreadyEnded", "Access had already ended"
