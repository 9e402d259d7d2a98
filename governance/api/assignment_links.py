"""The navigation properties of requests and assignments, as paths of their own (the SDK's
``assignment_requests.by_…_id(id).access_package.get()`` and the like):

- assignmentRequests/{id}/accessPackage, /assignment, /requestor;
- assignments/{id}/accessPackage, /assignmentPolicy.

Each is readable by whoever may read the request or assignment.
"""

from django.urls import path

from governance.selectors.visibility import assignments_visible_to, requests_visible_to

from . import odata
from .assignment_json import ASSIGNMENT, ASSIGNMENTS, policy_brief_json
from .base import EM, GraphType, GraphView, ResourceNotFound, get_or_404
from .request_json import REQUEST_WHAT, REQUESTS
from .shapes import PACKAGE_BRIEF, subject_json

POLICY = GraphType("accessPackageAssignmentPolicy",
                   {"id": odata.ident("pk"), "displayName": odata.text("display_name"),
                    "description": odata.text("description"),
                    "allowedTargetScope": odata.text("allowed_target_scope")},
                   policy_brief_json)
SUBJECT = GraphType("accessPackageSubject",
                    {"id": odata.ident("pk"), "objectId": odata.ident("pk"),
                     "displayName": odata.text("display_name"), "email": odata.text("email")},
                    lambda user, expand=(): subject_json(user))


class RequestAccessPackage(GraphView):
    graph_type = PACKAGE_BRIEF

    def get(self, request, request_id):
        found = get_or_404(requests_visible_to(request.user), request_id, REQUEST_WHAT)
        return self.entity(found.access_package, PACKAGE_BRIEF, f"{EM}/accessPackages")


class RequestAssignment(GraphView):
    graph_type = ASSIGNMENT

    def get(self, request, request_id):
        found = get_or_404(requests_visible_to(request.user), request_id, REQUEST_WHAT)
        if found.assignment_id is None:
            raise ResourceNotFound(f"Request {found.pk} has no assignment (yet).")
        return self.entity(found.assignment, ASSIGNMENT, ASSIGNMENTS)


class RequestRequestor(GraphView):
    graph_type = SUBJECT

    def get(self, request, request_id):
        found = get_or_404(requests_visible_to(request.user), request_id, REQUEST_WHAT)
        return self.entity(found.requestor, SUBJECT, f"{EM}/subjects")


class AssignmentAccessPackage(GraphView):
    graph_type = PACKAGE_BRIEF

    def get(self, request, assignment_id):
        found = get_or_404(assignments_visible_to(request.user), assignment_id,
                           "accessPackageAssignment")
        return self.entity(found.access_package, PACKAGE_BRIEF, f"{EM}/accessPackages")


class AssignmentPolicy(GraphView):
    graph_type = POLICY

    def get(self, request, assignment_id):
        found = get_or_404(assignments_visible_to(request.user), assignment_id,
                           "accessPackageAssignment")
        if found.policy is None:
            raise ResourceNotFound(f"Assignment {found.pk} has no policy.")
        return self.entity(found.policy, POLICY, f"{EM}/assignmentPolicies")


request_links = [
    path(f"{REQUESTS}/<str:request_id>/accessPackage", RequestAccessPackage.as_view()),
    path(f"{REQUESTS}/<str:request_id>/assignment", RequestAssignment.as_view()),
    path(f"{REQUESTS}/<str:request_id>/requestor", RequestRequestor.as_view()),
]

assignment_links = [
    path(f"{ASSIGNMENTS}/<str:assignment_id>/accessPackage", AssignmentAccessPackage.as_view()),
    path(f"{ASSIGNMENTS}/<str:assignment_id>/assignmentPolicy", AssignmentPolicy.as_view()),
]
