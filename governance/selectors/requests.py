"""A person's own requests, assignments, approvals and team, as My Access lists them: the
people's part of the rules of governance.selectors.visibility, with what the pages show."""

from django.db.models import F, Prefetch, QuerySet

from governance.choices import ASSIGNMENT_ACTIVE, AssignmentState, RequestState, StageState
from governance.models import (
    ApprovalDecision,
    ApprovalStage,
    Assignment,
    AssignmentRequest,
    ExtensionCallout,
    RequestAnswer,
    User,
)
from governance.selectors.visibility import (
    approver_stages,
    own_assignments,
    own_requests,
    team_assignments,
)


def requests_of(user: User) -> QuerySet[AssignmentRequest]:
    """Requests this person made or that are for them, with their stages and decisions, and
    the custom extensions that held them (`waiting_callouts`), in a fixed number of queries."""
    stages = ApprovalStage.objects.select_related("decision__approver").order_by("order")
    callouts = ExtensionCallout.objects.filter(waits=True).select_related("extension") \
        .order_by("created_at", "id")
    return (own_requests(user)
            .select_related("access_package", "requestor", "target")
            .prefetch_related(Prefetch("stages", queryset=stages),
                              Prefetch("callouts", queryset=callouts,
                                       to_attr="waiting_callouts")))


def assignments_active_for(user: User) -> QuerySet[Assignment]:
    return own_assignments(user).filter(state__in=ASSIGNMENT_ACTIVE) \
        .select_related("access_package", "policy").order_by("expires_at", "id")


def assignments_expired_for(user: User) -> QuerySet[Assignment]:
    return own_assignments(user).filter(state=AssignmentState.EXPIRED) \
        .select_related("access_package").order_by("-ended_at", "-id")


def approvals_pending_for(user: User) -> QuerySet[ApprovalStage]:
    """Stages waiting for this person's decision; never their own requests."""
    return (approver_stages(user)
            .filter(state=StageState.IN_PROGRESS, request__state=RequestState.PENDING_APPROVAL)
            # Why it is theirs (primary, fallback, escalation, delegate), from the same join.
            .annotate(approver_kind=F("stage_approvers__kind"))
            # The target's manager: the page shows their name beside the job title.
            .select_related("request__access_package", "request__target__connected_organization",
                            "request__target__manager", "request__requestor")
            .order_by("due_at", "id"))


def approvals_decided_by(user: User) -> QuerySet[ApprovalDecision]:
    return (ApprovalDecision.objects.filter(approver=user)
            .select_related("stage__request__access_package",
                            "stage__request__target__connected_organization")
            .order_by("-decided_at", "-id"))


def approval_for_page(user: User, stage_id: int) -> ApprovalStage | None:
    """A stage this person approves (pending, or decided by anyone), with what they need to
    decide; None when they are not one of its approvers."""
    answers = RequestAnswer.objects.select_related("question")
    return (approver_stages(user).filter(pk=stage_id)
            .select_related("request__access_package", "request__requestor__manager",
                            "request__target__connected_organization", "request__target__manager",
                            "decision__approver")
            .prefetch_related(Prefetch("request__answers", queryset=answers))
            .first())


def team_assignments_for(manager: User) -> QuerySet[Assignment]:
    """The active assignments of a manager's direct reports."""
    return (team_assignments(manager)
            .select_related("access_package", "target").order_by("target__email", "id"))
