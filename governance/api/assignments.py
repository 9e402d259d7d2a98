"""Assignments: /identityGovernance/entitlementManagement/assignments
(accessPackageAssignment).

Readers of a catalog see its assignments (global administrators and API clients all of them);
by id, also the people selectors.visibility.assignments_visible_to names (the target, their
manager); everyone lists their own through filterByCurrentUser(on='target'). Reprocessing needs
the assignment manager's rights, as delivery_reprocess decides.
"""

from django.urls import path, re_path
from rest_framework.response import Response

from governance.choices import UserType
from governance.models import Assignment, User
from governance.selectors.visibility import Capability, assignments_visible_to
from governance.services.delivery import delivery_reprocess

from .assignment_json import ASSIGNMENT, ASSIGNMENTS
from .assignment_links import assignment_links
from .base import GraphView, get_or_404
from .errors import GraphError


def current_person(request, on: str, allowed: tuple[str, ...]) -> User:
    """The signed-in person of a filterByCurrentUser call; `on` must be one of `allowed`."""
    if on not in allowed:
        raise GraphError(f"filterByCurrentUser: on='{on}' is not supported; use "
                         + " or ".join(f"on='{value}'" for value in allowed) + ".")
    if request.user.user_type == UserType.SERVICE:
        raise GraphError("filterByCurrentUser needs a person's token: an application is not "
                         "a user. Use $filter on the collection instead.")
    return request.user


# filterByCurrentUser(on='target'): the quotes may also arrive percent-encoded (decoded here).
def current_user_path(collection: str) -> str:
    return rf"^{collection}/filterByCurrentUser[(]on='?(?P<on>\w*)'?[)]$"


class AssignmentList(GraphView):
    graph_type, is_collection = ASSIGNMENT, True

    def get(self, request):
        readable = Assignment.objects.restrict(request.user, Capability.READ)
        return self.collection(readable, ASSIGNMENT, ASSIGNMENTS)


class AssignmentsOfCurrentUser(GraphView):
    graph_type, is_collection = ASSIGNMENT, True

    def get(self, request, on):
        person = current_person(request, on, ("target",))
        return self.collection(Assignment.objects.filter(target=person), ASSIGNMENT,
                               ASSIGNMENTS)


class AssignmentDetail(GraphView):
    graph_type = ASSIGNMENT

    def get(self, request, assignment_id):
        visible = ASSIGNMENT.prefetch(assignments_visible_to(request.user), [])
        assignment = get_or_404(visible, assignment_id, "accessPackageAssignment")
        return self.entity(assignment, ASSIGNMENT, ASSIGNMENTS)


class AssignmentReprocess(GraphView):
    """Retry the assignment's failed (and waiting) deliveries now: 202 Accepted."""

    graph_type = None

    def post(self, request, assignment_id):
        assignment = get_or_404(assignments_visible_to(request.user), assignment_id,
                                "accessPackageAssignment")
        delivery_reprocess(actor=request.user, assignment_id=assignment.pk)
        return Response(status=202)


urlpatterns = [
    path(ASSIGNMENTS, AssignmentList.as_view()),
    re_path(current_user_path(ASSIGNMENTS), AssignmentsOfCurrentUser.as_view()),
    path(f"{ASSIGNMENTS}/<str:assignment_id>", AssignmentDetail.as_view()),
    path(f"{ASSIGNMENTS}/<str:assignment_id>/reprocess", AssignmentReprocess.as_view()),
    *assignment_links,
]
