"""Approvals: /identityGovernance/entitlementManagement/accessPackageAssignmentApprovals
(approval, whose id is the request's, and its approvalStage).

filterByCurrentUser(on='approver') lists the approvals with a stage waiting for the caller;
PATCH of a stage with ``{"reviewResult": "Approve" | "Deny", "justification": "…"}`` decides
it through stage_decide (a stage already decided is a 409; someone who is not its approver,
a 403).
"""

from django.urls import path, re_path

from governance.models import AssignmentRequest
from governance.selectors.requests import approvals_pending_for
from governance.selectors.visibility import approvals_visible_to
from governance.services.approvals import stage_decide

from .approval_json import (
    APPROVAL,
    APPROVALS,
    STAGE,
    approval_type,
    stage_of,
    stage_type,
)
from .assignments import current_person, current_user_path
from .base import GraphView, get_or_404
from .graph_json import Body, InvalidBody, camel_keys

STAGE_PROPERTIES = ("reviewResult", "justification")


class ApprovalsOfCurrentUser(GraphView):
    graph_type, is_collection = APPROVAL, True

    def get(self, request, on):
        person = current_person(request, on, ("approver",))
        waiting = AssignmentRequest.objects.filter(
            pk__in=approvals_pending_for(person).values("request_id"))
        return self.collection(waiting, approval_type(person), APPROVALS)


class ApprovalDetail(GraphView):
    graph_type = APPROVAL

    def get(self, request, approval_id):
        found = get_or_404(approvals_visible_to(request.user), approval_id, "approval")
        kind = approval_type(request.user)
        return self.entity(self.reload(AssignmentRequest.objects.all(), found, kind), kind,
                           APPROVALS)


class StageList(GraphView):
    graph_type, is_collection = STAGE, True

    def get(self, request, approval_id):
        found = get_or_404(approvals_visible_to(request.user), approval_id, "approval")
        return self.collection(found.stages.all(), stage_type(found, request.user),
                               f"{APPROVALS}/{found.pk}/stages")


class StageDetail(GraphView):
    graph_type, body_properties = STAGE, STAGE_PROPERTIES

    def get(self, request, approval_id, stage_id):
        found = get_or_404(approvals_visible_to(request.user), approval_id, "approval")
        kind = stage_type(found, request.user)
        stage = stage_of(found, stage_id)
        return self.entity(self.reload(found.stages.all(), stage, kind), kind,
                           f"{APPROVALS}/{found.pk}/stages")

    def patch(self, request, approval_id, stage_id):
        found = get_or_404(approvals_visible_to(request.user), approval_id, "approval")
        stage = stage_of(found, stage_id)
        body = Body(camel_keys(self.body()), STAGE_PROPERTIES, "approvalStage")
        if not body.has("reviewResult"):
            raise InvalidBody("reviewResult: required; Approve or Deny.")
        decision = body.enum("reviewResult", ("Approve", "Deny"))
        stage_decide(stage_id=stage.pk, approver=request.user, decision=decision,
                     justification=body.text("justification"))
        return self.no_content()


urlpatterns = [
    re_path(current_user_path(APPROVALS), ApprovalsOfCurrentUser.as_view()),
    path(f"{APPROVALS}/<str:approval_id>", ApprovalDetail.as_view()),
    path(f"{APPROVALS}/<str:approval_id>/stages", StageList.as_view()),
    path(f"{APPROVALS}/<str:approval_id>/stages/<str:stage_id>", StageDetail.as_view()),
]
