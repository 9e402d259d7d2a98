"""POST accessPackages/{id}/getApplicablePolicyRequirements: for the signed-in person, one
accessPackageAssignmentRequestRequirements per policy they may request the package under,
as Graph answers it (an empty collection when there is none).

The policies are those of the request rules (governance.selectors.packages.request_options:
the person in the policy's scope, requests open, the most specific scope first); an automatic
policy is never among them, since nobody requests under it. The package is found as the
portal's pages find it: a package the person may request, holds or asked for, or one of the
catalogs they read; any other id is a 404. Like Graph, the action takes a person's own token
(Read.All is enough: it changes nothing); an application's token is refused.
"""

from django.urls import path
from rest_framework.response import Response

from governance.models import AccessPackage, AssignmentPolicy
from governance.selectors.packages import package_for_page, request_options
from governance.selectors.visibility import catalog_packages_visible_to

from . import odata, permissions
from .base import EM, GraphType, GraphView, ResourceNotFound, context_url, object_id
from .errors import GraphError
from .graph_json import load_body
from .policy_json import expiration_json, question_json
from .shapes import GRAPH, sid

REQUIREMENTS_TYPE = "accessPackageAssignmentRequestRequirements"


def requirements_json(policy: AssignmentPolicy, expand=()) -> dict:
    """What a request under `policy` must give: justification, answers, a schedule within the
    policy's expiration (custom only when allowed)."""
    questions = sorted(policy.questions.all(), key=lambda q: (q.sequence, q.pk))
    return {
        "@odata.type": GRAPH + REQUIREMENTS_TYPE,
        "policyId": sid(policy.pk),
        "policyDisplayName": policy.display_name,
        "policyDescription": policy.description,
        "isApprovalRequiredForAdd": policy.is_approval_required_for_add,
        "isApprovalRequiredForUpdate": policy.is_approval_required_for_update,
        "isRequestorJustificationRequired": policy.is_requestor_justification_required,
        "allowCustomAssignmentSchedule": policy.allow_custom_schedule,
        "questions": [question_json(question) for question in questions],
        "schedule": {"startDateTime": None, "expiration": expiration_json(policy),
                     "recurrence": None},
    }


REQUIREMENTS = GraphType(REQUIREMENTS_TYPE, {
    "policyId": odata.ident("pk"),
    "policyDisplayName": odata.text("display_name"),
    "policyDescription": odata.text("description"),
    "isApprovalRequiredForAdd": odata.boolean("is_approval_required_for_add"),
    "isApprovalRequiredForUpdate": odata.boolean("is_approval_required_for_update"),
    "isRequestorJustificationRequired": odata.boolean("is_requestor_justification_required"),
    "allowCustomAssignmentSchedule": odata.boolean("allow_custom_schedule"),
}, requirements_json)


def _package_for(person, raw_id) -> AccessPackage:
    package_id = object_id(raw_id, "access package")
    package = package_for_page(person, package_id) or \
        catalog_packages_visible_to(person).filter(pk=package_id).first()
    if package is None:
        raise ResourceNotFound(f"No access package has the id '{raw_id}', or you may not "
                               "see it.")
    return package


class ApplicablePolicyRequirements(GraphView):
    """For the caller, who signs in with their own token: an application has no policies to
    request under."""

    graph_type, is_collection, is_action = REQUIREMENTS, True, True
    graph_permissions = permissions.SIGNED_IN_READ

    def post(self, request, package_id):
        """The policies the signed-in person may request the package under.

        One accessPackageAssignmentRequestRequirements each: what a request must give."""
        for key in request.query_params:
            if key.startswith("$"):
                raise odata.ODataError(f"The query option '{key}' does not apply to "
                                       "getApplicablePolicyRequirements.")
        if request.body.strip() and load_body(request.body):
            raise GraphError("getApplicablePolicyRequirements takes no request body.")
        package = _package_for(request.user, package_id)
        options = request_options(request.user, package)
        order = {policy.pk: index for index, policy in enumerate(options.policies)}
        policies = sorted(AssignmentPolicy.objects.filter(pk__in=list(order))
                          .prefetch_related("questions"), key=lambda policy: order[policy.pk])
        context = context_url(request, f"Collection(microsoft.graph.{REQUIREMENTS_TYPE})")
        return Response({"@odata.context": context,
                         "value": [requirements_json(policy) for policy in policies]})


urlpatterns = [
    path(f"{EM}/accessPackages/<str:package_id>/getApplicablePolicyRequirements",
         ApplicablePolicyRequirements.as_view()),
]
