"""Access reviews of package assignments, read only:
/identityGovernance/accessReviews/definitions (accessReviewScheduleDefinition), each with one
instance (accessReviewInstance, the same id) and its decisions
(accessReviewInstanceDecisionItem). Shapes in review_json.

Readers of a package's catalog (and global administrators and API clients) read its reviews
and every decision; a reviewer reads the decisions they review, as the My Access pages show
them (selectors.reviews.reviewable_decisions). A person's token also finds their own work
with Graph's filterByCurrentUser(on='reviewer') on definitions and on an instance's decisions.
"""

from django.db.models import Exists, OuterRef
from django.urls import path, re_path

from governance.models import AccessReview
from governance.selectors.reviews import reviewable_decisions
from governance.selectors.visibility import review_decisions_visible_to, reviews_visible_to

from .assignments import current_person, current_user_path
from .base import GraphView, ResourceNotFound, get_or_404, object_id
from .review_json import DECISION, DEFINITION, INSTANCE, decision_type

DEFINITIONS = "identityGovernance/accessReviews/definitions"


def _review(user, definition_id) -> AccessReview:
    return get_or_404(reviews_visible_to(user), definition_id, "access review definition")


def _instance_id(definition_id, instance_id) -> None:
    """Each definition has one instance, with the definition's id."""
    if object_id(instance_id, "access review instance") != object_id(
            definition_id, "access review definition"):
        raise ResourceNotFound(f"No access review instance has the id '{instance_id}'.")


def _decisions(user, definition_id):
    """The decisions of one review `user` may read; a 404 when they may read none."""
    decisions = review_decisions_visible_to(
        user, object_id(definition_id, "access review definition"))
    if decisions is None:
        raise ResourceNotFound(f"No access review definition has the id '{definition_id}', "
                               "or you may not see it.")
    return decisions


class DefinitionList(GraphView):
    graph_type, is_collection = DEFINITION, True

    def get(self, request):
        return self.collection(reviews_visible_to(request.user), DEFINITION, DEFINITIONS)


class DefinitionsOfCurrentUser(GraphView):
    """definitions/filterByCurrentUser(on='reviewer'): the reviews where the caller reviews
    someone, open or closed."""

    graph_type, is_collection = DEFINITION, True

    def get(self, request, on):
        person = current_person(request, on, ("reviewer",))
        mine = reviewable_decisions(person).filter(review_id=OuterRef("pk"))
        return self.collection(AccessReview.objects.filter(Exists(mine)), DEFINITION,
                               DEFINITIONS)


class DefinitionDetail(GraphView):
    graph_type = DEFINITION

    def get(self, request, definition_id):
        review = _review(request.user, definition_id)
        return self.entity(self.reload(AccessReview.objects, review, DEFINITION), DEFINITION,
                           DEFINITIONS)


class InstanceList(GraphView):
    graph_type, is_collection = INSTANCE, True

    def get(self, request, definition_id):
        review = _review(request.user, definition_id)
        return self.collection(AccessReview.objects.filter(pk=review.pk), INSTANCE,
                               f"{DEFINITIONS}('{review.pk}')/instances")


class InstanceDetail(GraphView):
    graph_type = INSTANCE

    def get(self, request, definition_id, instance_id):
        review = _review(request.user, definition_id)
        _instance_id(definition_id, instance_id)
        return self.entity(self.reload(AccessReview.objects, review, INSTANCE), INSTANCE,
                           f"{DEFINITIONS}('{review.pk}')/instances")


class DecisionList(GraphView):
    graph_type, is_collection = DECISION, True

    def get(self, request, definition_id, instance_id):
        decisions = _decisions(request.user, definition_id)
        _instance_id(definition_id, instance_id)
        return self.collection(decisions.order_by("id"), decision_type(request),
                               f"{DEFINITIONS}('{definition_id}')/instances('{instance_id}')"
                               "/decisions")


class DecisionsOfCurrentUser(GraphView):
    """…/decisions/filterByCurrentUser(on='reviewer'): the decisions the caller reviews."""

    graph_type, is_collection = DECISION, True

    def get(self, request, definition_id, instance_id, on):
        person = current_person(request, on, ("reviewer",))
        _instance_id(definition_id, instance_id)
        review_id = object_id(definition_id, "access review definition")
        mine = reviewable_decisions(person).filter(review_id=review_id).order_by("id")
        return self.collection(mine, decision_type(request),
                               f"{DEFINITIONS}('{definition_id}')/instances('{instance_id}')"
                               "/decisions")


class DecisionDetail(GraphView):
    graph_type = DECISION

    def get(self, request, definition_id, instance_id, decision_id):
        decisions = _decisions(request.user, definition_id)
        _instance_id(definition_id, instance_id)
        graph_type = decision_type(request)
        decision = get_or_404(graph_type.prefetch(decisions, []), decision_id,
                              "access review decision")
        return self.entity(decision, graph_type,
                           f"{DEFINITIONS}('{definition_id}')/instances('{instance_id}')"
                           "/decisions")


INSTANCES = f"{DEFINITIONS}/<str:definition_id>/instances"

DECISIONS_PATTERN = (f"{DEFINITIONS}/(?P<definition_id>[^/]+)/instances/"
                     "(?P<instance_id>[^/]+)/decisions")

urlpatterns = [
    path(DEFINITIONS, DefinitionList.as_view()),
    re_path(current_user_path(DEFINITIONS), DefinitionsOfCurrentUser.as_view()),
    re_path(current_user_path(DECISIONS_PATTERN), DecisionsOfCurrentUser.as_view()),
    path(f"{DEFINITIONS}/<str:definition_id>", DefinitionDetail.as_view()),
    path(INSTANCES, InstanceList.as_view()),
    path(f"{INSTANCES}/<str:instance_id>", InstanceDetail.as_view()),
    path(f"{INSTANCES}/<str:instance_id>/decisions", DecisionList.as_view()),
    path(f"{INSTANCES}/<str:instance_id>/decisions/<str:decision_id>", DecisionDetail.as_view()),
]
