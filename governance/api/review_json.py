"""Access reviews of package assignments in Graph's access review shapes.

Each AccessReview (one policy, one period) is an accessReviewScheduleDefinition with exactly
one accessReviewInstance, the same review under the same id; its ReviewDecisions are the
instance's accessReviewInstanceDecisionItems. The definition's settings are read from the
review's copy of its policy's reviewSettings (accessPackageAssignmentReviewSettings), as far
as they map.
"""

from datetime import datetime

import isodate

from governance.choices import (
    ReviewAppliedResult,
    ReviewDecisionValue,
    ReviewerType,
    ReviewExpirationBehavior,
    ReviewRecommendation,
    ReviewState,
)
from governance.models import AccessReview, ReviewDecision, User

from . import odata
from .base import API_ROOT, EM, GraphType
from .graph_json import instant
from .shapes import GRAPH, sid

DEFAULT_DECISIONS = {
    ReviewExpirationBehavior.KEEP_ACCESS: "Approve",
    ReviewExpirationBehavior.REMOVE_ACCESS: "Deny",
    ReviewExpirationBehavior.ACCEPT_RECOMMENDATION: "Recommendation",
}
RECOMMENDATIONS = {ReviewRecommendation.APPROVE: "Approve", ReviewRecommendation.DENY: "Deny",
                   ReviewRecommendation.NOT_AVAILABLE: "NoInfoAvailable"}
APPLY_RESULTS = {
    ReviewAppliedResult.NOT_APPLIED: "New",
    ReviewAppliedResult.KEPT: "AppliedSuccessfully",
    ReviewAppliedResult.REMOVED: "AppliedSuccessfully",
    ReviewAppliedResult.ALREADY_ENDED: "AppliedSuccessfullyButObjectNotFound",
}

DEFINITION_FIELDS = {
    "id": odata.ident("pk"),
    "status": odata.enum("state", ReviewState.values),
    "createdDateTime": odata.instant("created_at"),
}
INSTANCE_FIELDS = DEFINITION_FIELDS | {
    "startDateTime": odata.instant("start_at"),
    "endDateTime": odata.instant("end_at"),
}
DECISION_FIELDS = {
    "id": odata.ident("pk"),
    "decision": odata.enum("decision", ReviewDecisionValue.values),
    "recommendation": odata.enum("recommendation",
                                 {graph: stored for stored, graph in RECOMMENDATIONS.items()}),
    "reviewedDateTime": odata.instant("reviewed_at"),
    "appliedDateTime": odata.instant("applied_at"),
    "principal/id": odata.ident("principal_id"),
    "reviewedBy/id": odata.ident("reviewed_by_id"),
}


def _query_scope(query: str, query_root: str | None = None) -> dict:
    return {"query": query, "queryType": "MicrosoftGraph", "queryRoot": query_root}


def scope_json(review: AccessReview) -> dict:
    """The assignments of the review's package under its policy (accessReviewQueryScope)."""
    query = (f"/{EM}/accessPackageAssignments?$filter=(accessPackage/id eq "
             f"'{review.access_package_id}' and assignmentPolicy/id eq '{review.policy_id}')")
    return {"@odata.type": f"{GRAPH}accessReviewQueryScope", **_query_scope(query)}


def _reviewer_scopes(items, package_id: int) -> list[dict]:
    """accessReviewReviewerScope for each reviewer of the stored settings."""
    scopes = []
    for item in items if isinstance(items, list) else []:
        kind = str((item or {}).get("@odata.type", "")).removeprefix(GRAPH)
        if kind == ReviewerType.SINGLE_USER:
            scopes.append(_query_scope(f"/users/{item.get('userId')}"))
        elif kind == ReviewerType.GROUP_MEMBERS:
            scopes.append(_query_scope(f"/groups/{item.get('groupId')}/transitiveMembers"))
        elif kind == ReviewerType.MANAGER:
            scopes.append(_query_scope("./manager", "decisions"))
        elif kind == ReviewerType.SPONSORS:
            scopes.append(_query_scope("./sponsors", "decisions"))
        elif kind == ReviewerType.PACKAGE_MANAGERS:
            scopes.append(_query_scope(f"/{EM}/accessPackages/{package_id}/managers"))
    return scopes


def _duration_days(review: AccessReview, settings: dict) -> int:
    text = ((settings.get("schedule") or {}).get("expiration") or {}).get("duration")
    try:
        return isodate.parse_duration(text).days
    except (isodate.ISO8601Error, TypeError, ValueError, AttributeError):
        return (review.end_at - review.start_at).days


def _recurrence(review: AccessReview, settings: dict) -> dict:
    """patternedRecurrence: the stored pattern (weekly, or absoluteMonthly every n months)
    from the series' first start, with no end."""
    schedule = settings.get("schedule") or {}
    pattern = dict((schedule.get("recurrence") or {}).get("pattern") or {})
    first = schedule.get("startDateTime")
    try:
        start = datetime.fromisoformat(str(first).replace("Z", "+00:00")) if first else None
    except ValueError:
        start = None
    start = start or review.start_at
    pattern.setdefault("type", "absoluteMonthly")
    pattern.setdefault("interval", 1)
    if pattern["type"] == "absoluteMonthly":
        pattern.setdefault("dayOfMonth", start.day)
    return {"pattern": pattern,
            "range": {"type": "noEnd", "startDate": start.date().isoformat(), "endDate": None,
                      "numberOfOccurrences": 0}}


def settings_json(review: AccessReview) -> dict:
    """accessReviewScheduleSettings from the review's copy of its policy's settings."""
    settings = review.settings or {}
    behavior = settings.get("expirationBehavior", ReviewExpirationBehavior.KEEP_ACCESS)
    recommendations = bool(settings.get("isRecommendationEnabled", True))
    return {
        "mailNotificationsEnabled": True,
        "reminderNotificationsEnabled": True,
        "justificationRequiredOnApproval": bool(
            settings.get("isReviewerJustificationRequired", False)),
        "defaultDecisionEnabled": behavior in DEFAULT_DECISIONS,
        "defaultDecision": DEFAULT_DECISIONS.get(behavior, "None"),
        "instanceDurationInDays": _duration_days(review, settings),
        "autoApplyDecisionsEnabled": bool(settings.get("autoApplyDecisionsEnabled", True)),
        "recommendationsEnabled": recommendations,
        "recommendationLookBackDuration": "P30D" if recommendations else None,
        "decisionHistoriesForReviewersEnabled": False,
        "applyActions": [{"@odata.type": f"{GRAPH}removeAccessApplyAction"}],
        "recurrence": _recurrence(review, settings),
    }


def _display_name(review: AccessReview) -> str:
    return f"Review of {review.access_package.display_name}"


def instance_json(review: AccessReview, expand=()) -> dict:
    settings = review.settings or {}
    # Self-review: no reviewers, each person reviews their own access (Graph's convention).
    reviewers = [] if settings.get("isSelfReview") else _reviewer_scopes(
        settings.get("primaryReviewers"), review.access_package_id)
    return {
        "id": sid(review.pk),
        "startDateTime": instant(review.start_at),
        "endDateTime": instant(review.end_at),
        "status": review.state,
        "scope": scope_json(review),
        "reviewers": reviewers,
        "fallbackReviewers": _reviewer_scopes(settings.get("fallbackReviewers"),
                                              review.access_package_id),
    }


def definition_json(review: AccessReview, expand=()) -> dict:
    settings = review.settings or {}
    instance = instance_json(review)
    item = {
        "id": sid(review.pk),
        "displayName": _display_name(review),
        "descriptionForAdmins": f"Assignments of {review.access_package.display_name} under "
                                f"the policy {review.policy.display_name}.",
        "descriptionForReviewers": "",
        "createdDateTime": instant(review.created_at),
        "lastModifiedDateTime": instant(review.applied_at or review.completed_at
                                        or review.created_at),
        "status": review.state,
        "createdBy": None,
        "scope": instance["scope"],
        "instanceEnumerationScope": None,
        "reviewers": instance["reviewers"],
        "fallbackReviewers": instance["fallbackReviewers"],
        "settings": settings_json(review),
        "additionalNotificationRecipients": [],
    }
    if settings.get("isSelfReview"):
        item["descriptionForReviewers"] = "Do you still need this access?"
    if "instances" in expand:
        item["instances"] = [instance]
    return item


def review_prefetch(queryset, expand):
    return queryset.select_related("access_package", "policy")


DEFINITION = GraphType("accessReviewScheduleDefinition", DEFINITION_FIELDS, definition_json,
                       expandable=("instances",), prefetch=review_prefetch)
INSTANCE = GraphType("accessReviewInstance", INSTANCE_FIELDS, instance_json,
                     prefetch=review_prefetch)


def identity_json(user: User | None) -> dict | None:
    """userIdentity: who someone is, as a decision names them."""
    if user is None:
        return None
    return {"@odata.type": f"{GRAPH}userIdentity", "id": sid(user.pk),
            "displayName": user.display_name or user.email, "userPrincipalName": user.email}


def decision_json(decision: ReviewDecision, root: str) -> dict:
    """`root` is the absolute URL of /v1.0, for the links to the principal and package."""
    package = decision.review.access_package
    applied = decision.applied_result or ReviewAppliedResult.NOT_APPLIED
    return {
        "id": sid(decision.pk),
        "accessReviewId": sid(decision.review_id),
        "decision": decision.decision,
        "justification": decision.justification,
        "recommendation": RECOMMENDATIONS.get(decision.recommendation, "NoInfoAvailable"),
        "reviewedBy": identity_json(decision.reviewed_by),
        "reviewedDateTime": instant(decision.reviewed_at),
        "appliedBy": None,
        "appliedDateTime": instant(decision.applied_at),
        "applyResult": APPLY_RESULTS.get(applied, "New"),
        "principal": identity_json(decision.principal),
        "principalLink": f"{root}/users/{decision.principal_id}",
        "resource": {"id": sid(package.pk), "displayName": package.display_name,
                     "type": "accessPackage"},
        "resourceLink": f"{root}/{EM}/accessPackages/{package.pk}",
    }


def decision_prefetch(queryset, expand):
    return queryset.select_related("principal", "reviewed_by", "review__access_package")


def decision_type(request) -> GraphType:
    """The decision type for one request (its links are absolute, as Graph's are)."""
    root = request.build_absolute_uri(API_ROOT)
    return GraphType("accessReviewInstanceDecisionItem", DECISION_FIELDS,
                     lambda decision, expand=(): decision_json(decision, root),
                     prefetch=decision_prefetch)


DECISION = GraphType("accessReviewInstanceDecisionItem", DECISION_FIELDS,
                     lambda decision, expand=(): decision_json(decision, API_ROOT),
                     prefetch=decision_prefetch)
