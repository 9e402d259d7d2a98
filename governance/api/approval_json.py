"""The JSON of approval (an assignment request's approval, with the request's id) and of
approvalStage.

Who sees an approval is selectors.visibility.approvals_visible_to. ``assignedToMe`` depends
on the caller, so the entity types are made per caller.
"""

from django.db.models import Prefetch, QuerySet

from governance.choices import RequestState, StageState
from governance.models import ApprovalStage, AssignmentRequest, StageApprover, User

from . import odata
from .base import EM, GraphType, get_or_404
from .graph_json import instant
from .shapes import sid

APPROVALS = f"{EM}/accessPackageAssignmentApprovals"

STAGE_STATUS = {StageState.NOT_STARTED: "NotStarted", StageState.IN_PROGRESS: "InProgress",
                StageState.APPROVED: "Completed", StageState.DENIED: "Completed",
                StageState.TIMED_OUT: "Expired", StageState.SKIPPED: "Canceled"}

STAGE_FIELDS = {
    "id": odata.ident("pk"),
    "justification": odata.text("decision__justification"),
    "reviewedDateTime": odata.instant("decision__decided_at"),
    "reviewedBy/id": odata.ident("decision__approver_id"),
}

APPROVAL_FIELDS = {"id": odata.ident("pk")}


def _decision(stage: ApprovalStage):
    try:
        return stage.decision
    except ApprovalStage.decision.RelatedObjectDoesNotExist:
        return None


def assigned_to(stage: ApprovalStage, request: AssignmentRequest, user: User | None) -> bool:
    """True when `user` may decide the stage now (uses the prefetched stage_approvers)."""
    if user is None or user.pk in (request.requestor_id, request.target_id):
        return False
    if stage.state != StageState.IN_PROGRESS or request.state != RequestState.PENDING_APPROVAL:
        return False
    return any(row.user_id == user.pk for row in stage.stage_approvers.all())


def stage_json(stage: ApprovalStage, request: AssignmentRequest, user: User | None) -> dict:
    decision = _decision(stage)
    approver = decision.approver if decision is not None else None
    return {
        "id": sid(stage.pk),
        "displayName": f"Stage {stage.order}",
        "reviewResult": stage.review_result,
        "status": STAGE_STATUS.get(stage.state, stage.state),
        "assignedToMe": assigned_to(stage, request, user),
        "justification": decision.justification if decision is not None else None,
        "reviewedBy": ({"id": sid(approver.pk), "displayName": approver.display_name
                        or approver.email} if approver is not None else None),
        "reviewedDateTime": instant(decision.decided_at) if decision is not None else None,
    }


def with_decision_and_approvers(stages: QuerySet[ApprovalStage]) -> QuerySet[ApprovalStage]:
    """What stage_json reads: the decision with its approver, and who may decide."""
    return stages.select_related("decision__approver").prefetch_related(
        Prefetch("stage_approvers", queryset=StageApprover.objects.only("stage_id", "user_id")))


def stages_queryset() -> QuerySet[ApprovalStage]:
    return with_decision_and_approvers(ApprovalStage.objects.order_by("order"))


def approval_type(user: User | None) -> GraphType:
    """approval, whose stages say whether they are assigned to `user`."""

    def to_json(request: AssignmentRequest, expand=()) -> dict:
        return {"id": sid(request.pk),
                "stages": [stage_json(stage, request, user) for stage in request.stages.all()]}

    def prefetch(queryset: QuerySet, expand) -> QuerySet:
        return queryset.prefetch_related(Prefetch("stages", queryset=stages_queryset()))

    return GraphType("approval", APPROVAL_FIELDS, to_json, prefetch=prefetch)


def stage_type(request: AssignmentRequest, user: User | None) -> GraphType:
    """approvalStage, within `request`'s approval."""

    def to_json(stage: ApprovalStage, expand=()) -> dict:
        return stage_json(stage, request, user)

    return GraphType("approvalStage", STAGE_FIELDS, to_json,
                     prefetch=lambda queryset, expand: with_decision_and_approvers(queryset))


APPROVAL = approval_type(None)
STAGE = GraphType("approvalStage", STAGE_FIELDS, lambda stage, expand=(): stage_json(
    stage, stage.request, None))


def stage_of(request: AssignmentRequest, stage_id) -> ApprovalStage:
    return get_or_404(request.stages.all(), stage_id, "approvalStage")
