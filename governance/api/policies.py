"""Assignment policies: /identityGovernance/entitlementManagement/assignmentPolicies
(accessPackageAssignmentPolicy).

Callers see the policies of the packages they may read. POST creates a policy (its
``accessPackage: {"id"}`` names the package), PUT replaces one (what the body leaves out takes
Graph's defaults), PATCH changes what the body names. A policy and its questions are written
in one transaction (policy_save or policy_update, then question_save / question_delete), so a
refused question leaves no policy behind. A PATCH reads its body over the policy as it is under
the policy's lock (policy_update), so two PATCHes of different parts both hold.
"""

from functools import partial

from django.db import transaction
from django.urls import path

from governance.models import AssignmentPolicy
from governance.selectors.visibility import catalog_packages_visible_to, policies_visible_to
from governance.services.errors import InvalidInput
from governance.services.policies import policy_delete, policy_save, policy_update
from governance.services.questions import question_delete, question_save

from .base import EM, GraphView, get_or_404, reference_id
from .errors import GraphError
from .graph_paths import under
from .package_json import POLICY
from .policy_body import POLICY_PROPERTIES, PolicyBody, graph_defaults

POLICIES = f"{EM}/assignmentPolicies"


def _policy(user, policy_id) -> AssignmentPolicy:
    return get_or_404(policies_visible_to(user), policy_id, "assignment policy")


def _write_questions(actor, policy: AssignmentPolicy, questions) -> None:
    """The policy's questions become `questions`: those with an id are changed, the others
    added, and those the body leaves out removed."""
    existing = set(policy.questions.values_list("pk", flat=True))
    kept = set()
    for spec in questions:
        if spec.question_id is not None and spec.question_id not in existing:
            raise GraphError(f"{spec.path}.id: '{spec.question_id}' is not a question of "
                             "this policy; leave the id out to add a question.")
        kept.add(spec.question_id)
    for question_id in sorted(existing - kept):
        question_delete(actor=actor, question_id=question_id)
    for spec in questions:
        try:
            question_save(actor=actor, policy_id=policy.pk, question_id=spec.question_id,
                          **spec.fields)
        except InvalidInput as refusal:
            raise under(refusal, spec.path) from None


def _save(actor, reading: PolicyBody, *, policy_id=None, access_package_id=None,
          over_current=False):
    """The policy (over Graph's defaults, or `over_current`ly) and its questions, all or
    nothing."""
    with transaction.atomic():
        if over_current:
            policy = policy_update(actor=actor, policy_id=policy_id,
                                   change=partial(reading.over, current=True))
        else:
            policy = policy_save(actor=actor, policy_id=policy_id,
                                 access_package_id=access_package_id,
                                 spec=reading.over(graph_defaults()))
        if reading.questions is not None:
            _write_questions(actor, policy, reading.questions)
    return policy


def _same_package(reading: PolicyBody, policy: AssignmentPolicy) -> None:
    named = reading.body.data.get("accessPackage")
    if named is not None and reference_id(named, "accessPackage",
                                          "access package") != policy.access_package_id:
        raise GraphError("accessPackage: a policy stays with its access package; add a "
                             "new policy to the other package instead.")


class PolicyList(GraphView):
    graph_type, body_properties, is_collection = POLICY, POLICY_PROPERTIES, True

    def get(self, request):
        return self.collection(policies_visible_to(request.user), POLICY, POLICIES)

    def post(self, request):
        reading = PolicyBody(self.body())
        package_id = reference_id(reading.body.data.get("accessPackage"), "accessPackage",
                                  "access package")
        package = get_or_404(catalog_packages_visible_to(request.user), package_id,
                             "access package")
        policy = _save(request.user, reading, access_package_id=package.pk)
        policy = self.reload(policies_visible_to(request.user), policy, POLICY)
        return self.entity(policy, POLICY, POLICIES, status=201)


class PolicyDetail(GraphView):
    graph_type, body_properties = POLICY, POLICY_PROPERTIES

    def get(self, request, policy_id):
        policy = self.reload(policies_visible_to(request.user),
                             _policy(request.user, policy_id), POLICY)
        return self.entity(policy, POLICY, POLICIES)

    def put(self, request, policy_id):
        policy = _policy(request.user, policy_id)
        reading = PolicyBody(self.body())
        _same_package(reading, policy)
        if reading.questions is None:
            reading.questions = []
        _save(request.user, reading, policy_id=policy.pk)
        policy = self.reload(policies_visible_to(request.user), policy, POLICY)
        return self.entity(policy, POLICY, POLICIES)

    def patch(self, request, policy_id):
        policy = _policy(request.user, policy_id)
        reading = PolicyBody(self.body())
        _same_package(reading, policy)
        _save(request.user, reading, policy_id=policy.pk, over_current=True)
        return self.no_content()

    def delete(self, request, policy_id):
        policy = _policy(request.user, policy_id)
        policy_delete(actor=request.user, policy_id=policy.pk)
        return self.no_content()


urlpatterns = [
    path(POLICIES, PolicyList.as_view()),
    path(f"{POLICIES}/<str:policy_id>", PolicyDetail.as_view()),
]
