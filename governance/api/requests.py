"""Assignment requests: /identityGovernance/entitlementManagement/assignmentRequests
(accessPackageAssignmentRequest).

Readers of a catalog see its requests; everyone sees the requests they made or that are for
them (selectors.visibility.requests_visible_to). POST makes a userAdd, userUpdate (extend),
userRemove, adminAdd or adminRemove request through the request services
(governance.api.request_body); cancel and reprocess are Graph's actions on one request.
"""

from django.urls import path, re_path
from rest_framework.response import Response

from governance.models import AssignmentRequest
from governance.selectors.visibility import assignments_visible_to, requests_visible_to
from governance.services.delivery import delivery_reprocess
from governance.services.requests import request_cancel

from .assignment_links import request_links
from .assignments import current_person, current_user_path
from .base import GraphView, get_or_404
from .errors import GraphError
from .request_body import REQUEST_PROPERTIES, request_from_body
from .request_json import REQUEST, REQUEST_WHAT, REQUESTS


class RequestList(GraphView):
    graph_type, body_properties, is_collection = REQUEST, REQUEST_PROPERTIES, True

    def get(self, request):
        return self.collection(requests_visible_to(request.user), REQUEST, REQUESTS)

    def post(self, request):
        created = request_from_body(request.user, self.body(),
                                    visible_assignments=assignments_visible_to(request.user))
        created = self.reload(AssignmentRequest.objects.all(), created, REQUEST)
        return self.entity(created, REQUEST, REQUESTS, status=201)


class RequestsOfCurrentUser(GraphView):
    """filterByCurrentUser(on='target') (requests for the caller) or on='createdBy'."""

    graph_type, is_collection = REQUEST, True

    def get(self, request, on):
        person = current_person(request, on, ("target", "createdBy"))
        mine = (AssignmentRequest.objects.filter(target=person) if on == "target"
                else AssignmentRequest.objects.filter(requestor=person))
        return self.collection(mine, REQUEST, REQUESTS)


class RequestDetail(GraphView):
    graph_type = REQUEST

    def get(self, request, request_id):
        found = get_or_404(requests_visible_to(request.user), request_id, REQUEST_WHAT)
        return self.entity(self.reload(AssignmentRequest.objects.all(), found, REQUEST),
                           REQUEST, REQUESTS)


class RequestCancel(GraphView):
    """Graph's cancel: 204, no body."""

    graph_type = None

    def post(self, request, request_id):
        found = get_or_404(requests_visible_to(request.user), request_id, REQUEST_WHAT)
        request_cancel(actor=request.user, request_id=found.pk)
        return self.no_content()


class RequestReprocess(GraphView):
    """Retry the delivery of the request's assignment: 202 Accepted."""

    graph_type = None

    def post(self, request, request_id):
        found = get_or_404(requests_visible_to(request.user), request_id, REQUEST_WHAT)
        if found.assignment_id is None:
            raise GraphError(
                f"Request {found.pk} is {found.get_state_display().lower()} and has no "
                "assignment to deliver, so there is nothing to reprocess.",
                code="RequestNotReprocessable", status=409)
        delivery_reprocess(actor=request.user, assignment_id=found.assignment_id)
        return Response(status=202)


urlpatterns = [
    path(REQUESTS, RequestList.as_view()),
    re_path(current_user_path(REQUESTS), RequestsOfCurrentUser.as_view()),
    path(f"{REQUESTS}/<str:request_id>", RequestDetail.as_view()),
    path(f"{REQUESTS}/<str:request_id>/cancel", RequestCancel.as_view()),
    path(f"{REQUESTS}/<str:request_id>/reprocess", RequestReprocess.as_view()),
    *request_links,
]
