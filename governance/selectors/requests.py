"""A person's own requests, assignments and pending approvals."""

from django.db.models import QuerySet

from governance.choices import ASSIGNMENT_ACTIVE, RequestState, StageState
from governance.models import ApprovalStage, Assignment, AssignmentRequest, User


def requests_of(user: User) -> QuerySet[AssignmentRequest]:
    return AssignmentRequest.objects.filter(target=user).select_related("access_package")


def assignments_active_for(user: User) -> QuerySet[Assignment]:
    return Assignment.objects.filter(target=user, state__in=ASSIGNMENT_ACTIVE) \
        .select_related("access_package")


def approvals_pending_for(user: User) -> QuerySet[ApprovalStage]:
    """Stages waiting for this person's decision; never their own requests."""
    return (ApprovalStage.objects
            .filter(stage_approvers__user=user, state=StageState.IN_PROGRESS,
                    request__state=RequestState.PENDING_APPROVAL)
            .exclude(request__target=user).exclude(request__requestor=user)
            .select_related("request__access_package", "request__target")
            .order_by("due_at"))
