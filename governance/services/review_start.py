"""Starting access reviews: the review of one policy for one period, a decision per active
assignment with its recommendation, and who reviews it; then one audit event and a
"review_started" email to each reviewer.

Everything is written set-based (INSERT … SELECT): starting a review of 100,000 assignments
costs a handful of statements and no Python per assignment, the emails included (see
bench/review_start.py). The SQL is plain enough for PostgreSQL and SQLite (the demo).

Who reviews (the policy's review settings, copied onto the review):
- self-review: each person reviews their own access (a DecisionReviewer row each);
- requestorManager, internalSponsors: the person's manager, their connected organisation's
  internal sponsors (DecisionReviewer rows);
- singleUser, groupMembers, accessPackageManagers: reviewers of every decision
  (ReviewReviewer rows);
- fallback reviewers take the decisions left with nobody else to review them.
Outside self-review nobody is made the reviewer of their own access, and only people whose
account is active review.
"""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AccountState,
    CatalogRole,
    GroupMembershipRole,
    ReviewDecisionValue,
    ReviewerType,
    ReviewRecommendation,
)
from governance.models import (
    AccessReview,
    Assignment,
    AssignmentPolicy,
    CatalogRoleAssignment,
    ConnectedOrganization,
    DecisionReviewer,
    GroupMembership,
    ReviewDecision,
    ReviewReviewer,
    User,
)
from governance.models.review_settings import (
    RECOMMENDATION_INACTIVE_DAYS,
    Reviewer,
    ReviewSettings,
    review_settings_from_graph,
)
from governance.services.audit import audit_record
from governance.services.errors import InvalidState, NotFound, Refused
from governance.services.outbox import notify_selected

logger = logging.getLogger(__name__)

DENY_REASON = f"Has not signed in for {RECOMMENDATION_INACTIVE_DAYS} days"
APPROVE_REASON = f"Signed in within the last {RECOMMENDATION_INACTIVE_DAYS} days"
SELF = "self"  # the person themselves, as a reviewer of their own decision
PER_DECISION = {ReviewerType.MANAGER, ReviewerType.SPONSORS}
PACKAGE_MANAGER_ROLES = (CatalogRole.OWNER, CatalogRole.PACKAGE_MANAGER)


def _tables() -> dict[str, str]:
    return {
        "assignment": Assignment._meta.db_table, "user": User._meta.db_table,
        "decision": ReviewDecision._meta.db_table,
        "decision_reviewer": DecisionReviewer._meta.db_table,
        "review_reviewer": ReviewReviewer._meta.db_table,
        "membership": GroupMembership._meta.db_table,
        "catalog_role": CatalogRoleAssignment._meta.db_table,
        "sponsor": ConnectedOrganization.internal_sponsors.through._meta.db_table,
    }


def _execute(sql: str, params: dict) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql.format(**_tables()), params)
        return cursor.rowcount


def _moment(value: datetime):
    """A datetime parameter as the backend stores it (SQLite: naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def _in(name: str, values, params: dict) -> str:
    """`(%(name0)s, %(name1)s, …)`, the values added to `params`."""
    keys = [f"{name}{i}" for i in range(len(values))]
    params.update(zip(keys, [str(value) for value in values], strict=True))
    return "(" + ", ".join(f"%({key})s" for key in keys) + ")"


# ------------------------------------------------------------------------------ decisions

DECISIONS = """
INSERT INTO {decision} (review_id, assignment_id, principal_id, decision, justification,
                        reviewed_by_id, reviewed_at, recommendation, recommendation_reason,
                        applied_result, applied_at)
SELECT %(review)s, a.id, a.target_id, %(not_reviewed)s, '', NULL, NULL, {recommendation},
       '', NULL
FROM {assignment} a JOIN {user} p ON p.id = a.target_id
WHERE a.policy_id = %(policy)s AND a.state IN {active}
ORDER BY a.id
"""
RECOMMENDED = """CASE WHEN p.last_login IS NULL OR p.last_login < %(cutoff)s
                 THEN %(deny)s ELSE %(approve)s END,
            CASE WHEN p.last_login IS NULL OR p.last_login < %(cutoff)s
                 THEN %(deny_reason)s ELSE %(approve_reason)s END"""


def _decisions_create(review: AccessReview, settings: ReviewSettings) -> int:
    params = {"review": review.pk, "policy": review.policy_id,
              "not_reviewed": ReviewDecisionValue.NOT_REVIEWED.value}
    if settings.is_recommendation_enabled:
        recommendation = RECOMMENDED
        params.update(
            cutoff=_moment(review.start_at - timedelta(days=RECOMMENDATION_INACTIVE_DAYS)),
            deny=ReviewRecommendation.DENY.value, approve=ReviewRecommendation.APPROVE.value,
            deny_reason=DENY_REASON, approve_reason=APPROVE_REASON)
    else:
        recommendation = "%(not_available)s, ''"
        params["not_available"] = ReviewRecommendation.NOT_AVAILABLE.value
    sql = DECISIONS.replace("{recommendation}", recommendation).replace(
        "{active}", _in("state", ASSIGNMENT_ACTIVE, params))
    return _execute(sql, params)


# ------------------------------------------------------------------------------ reviewers
# A "candidates" query gives (decision_id, principal_id, user_id) rows for the review's
# decisions; a "people" query gives the user_id of reviewers of the whole review.

def _people(reviewer: Reviewer, key: str, params: dict, catalog_id: int) -> str | None:
    if reviewer.type == ReviewerType.SINGLE_USER:
        params[key] = reviewer.user_id
        # Only %(key)s placeholders and table names go into the SQL; the values are in params.
        return f"SELECT id AS user_id FROM {{user}} WHERE id = %({key})s"  # nosec B608  # placeholders only
    if reviewer.type == ReviewerType.GROUP_MEMBERS:
        params.update({key: reviewer.group_id, f"{key}_role": GroupMembershipRole.MEMBER.value})
        return (f"SELECT user_id FROM {{membership}} WHERE group_id = %({key})s "  # nosec B608  # placeholders only
                f"AND role = %({key}_role)s")
    if reviewer.type == ReviewerType.PACKAGE_MANAGERS:
        params[key] = catalog_id
        roles = _in(f"{key}_role", PACKAGE_MANAGER_ROLES, params)
        return (f"SELECT DISTINCT user_id FROM {{catalog_role}} "  # nosec B608  # placeholders only
                f"WHERE catalog_id = %({key})s AND role IN {roles}")
    return None


def _candidates(reviewer: Reviewer, key: str, params: dict, catalog_id: int) -> str:
    columns = "SELECT d.id AS decision_id, d.principal_id AS principal_id, {} AS user_id " \
              "FROM {{decision}} d "
    if reviewer.type == SELF:
        return columns.format("d.principal_id") + "WHERE d.review_id = %(review)s"
    if reviewer.type == ReviewerType.MANAGER:
        return (columns.format("p.manager_id") + "JOIN {user} p ON p.id = d.principal_id "
                "WHERE d.review_id = %(review)s AND p.manager_id IS NOT NULL")
    if reviewer.type == ReviewerType.SPONSORS:
        return (columns.format("s.user_id") + "JOIN {user} p ON p.id = d.principal_id "
                "JOIN {sponsor} s ON s.connectedorganization_id = p.connected_organization_id "
                "WHERE d.review_id = %(review)s")
    people = _people(reviewer, key, params, catalog_id)
    return (columns.format("w.user_id") + f"CROSS JOIN ({people}) w "
            "WHERE d.review_id = %(review)s")


DECISION_REVIEWERS = """
INSERT INTO {decision_reviewer} (decision_id, user_id)
SELECT c.decision_id, c.user_id
FROM ({candidates}) c
JOIN {user} r ON r.id = c.user_id
WHERE r.is_active AND r.account_state = %(account_active)s {conditions}
"""
# Fallback reviewers take a decision with no reviewer of its own, when the review has no
# reviewer of every decision either (other than the person themselves).
NOBODY_ELSE = """
  AND NOT EXISTS (SELECT 1 FROM {decision_reviewer} x WHERE x.decision_id = c.decision_id)
  AND NOT EXISTS (SELECT 1 FROM {review_reviewer} w
                  WHERE w.review_id = %(review)s AND w.user_id <> c.principal_id)"""
REVIEW_REVIEWERS = """
INSERT INTO {review_reviewer} (review_id, user_id)
SELECT %(review)s, w.user_id FROM ({people}) w JOIN {user} r ON r.id = w.user_id
WHERE r.is_active AND r.account_state = %(account_active)s
"""


def _decision_reviewers_add(review: AccessReview, reviewers: list[Reviewer], catalog_id: int,
                            *, self_review: bool, fallback: bool) -> int:
    if not reviewers:
        return 0
    params = {"review": review.pk, "account_active": AccountState.ACTIVE.value}
    candidates = " UNION ".join(_candidates(reviewer, f"r{i}", params, catalog_id)
                                for i, reviewer in enumerate(reviewers))
    conditions = "" if self_review else "AND c.user_id <> c.principal_id"
    if fallback:
        conditions += NOBODY_ELSE
    sql = DECISION_REVIEWERS.replace("{candidates}", candidates).replace(
        "{conditions}", conditions)
    return _execute(sql, params)


def _review_reviewers_add(review: AccessReview, reviewers: list[Reviewer],
                          catalog_id: int) -> int:
    params = {"review": review.pk, "account_active": AccountState.ACTIVE.value}
    people = [_people(reviewer, f"r{i}", params, catalog_id)
              for i, reviewer in enumerate(reviewers)]
    if not people:
        return 0
    return _execute(REVIEW_REVIEWERS.replace("{people}", " UNION ".join(people)), params)


def _reviewers_assign(review: AccessReview, settings: ReviewSettings, catalog_id: int) -> dict:
    per_decision = [reviewer for reviewer in settings.primary if reviewer.type in PER_DECISION]
    if settings.is_self_review:
        per_decision.insert(0, Reviewer(SELF))
    whole_review = [reviewer for reviewer in settings.primary
                    if reviewer.type not in PER_DECISION]
    counts = {
        "reviewers": _review_reviewers_add(review, whole_review, catalog_id),
        "decisionReviewers": _decision_reviewers_add(
            review, per_decision, catalog_id, self_review=settings.is_self_review,
            fallback=False),
    }
    fallback = _decision_reviewers_add(review, list(settings.fallback), catalog_id,
                                       self_review=False, fallback=True)
    counts["decisionReviewers"] += fallback
    counts["fallbackDecisionReviewers"] = fallback
    return counts


# ------------------------------------------------------------------------------ emails

# A review-wide reviewer whose only decision would be their own access reviews nobody.
REVIEWERS_OF_REVIEW = """
    SELECT r.user_id FROM {review_reviewer} r WHERE r.review_id = %(review)s AND EXISTS (
        SELECT 1 FROM {decision} o WHERE o.review_id = r.review_id
        AND o.principal_id <> r.user_id)
    UNION
    SELECT x.user_id FROM {decision_reviewer} x JOIN {decision} d ON d.id = x.decision_id
    WHERE d.review_id = %(review)s"""


def _emails_queue(review: AccessReview) -> int:
    """One "review_started" email per reviewer (dedupe key review_started:<review>:<user>)."""
    return notify_selected(topic="review_started", payload={"review_id": review.pk},
                           dedupe_prefix=f"review_started:{review.pk}:",
                           user_ids_sql=REVIEWERS_OF_REVIEW.format(**_tables()),
                           params={"review": review.pk})


# ------------------------------------------------------------------------------ services

def review_start(*, policy_id: int, start_at: datetime) -> AccessReview | None:
    """Start the review of `policy_id` that begins at `start_at`, with a decision for each of
    the policy's active assignments; None when that review has already been started.

    :raises NotFound: no such policy.
    :raises InvalidState: the policy's reviews are not enabled.
    :raises InvalidInput: its review settings cannot be read.
    """
    with transaction.atomic():
        # NO KEY: two starts (or a start and an edit of the policy) wait for each other, but
        # requests and assignments that refer to the policy are not held up meanwhile.
        policy = (AssignmentPolicy.objects.select_for_update(of=("self",), no_key=True)
                  .select_related("access_package").filter(pk=policy_id).first())
        if policy is None:
            raise NotFound("There is no such policy.")
        settings = review_settings_from_graph(policy.review_settings)
        if not settings.is_enabled:
            raise InvalidState(f"Access reviews are not enabled for the policy "
                               f"“{policy.display_name}”.", code="reviewsNotEnabled")
        if AccessReview.objects.filter(policy_id=policy_id, start_at=start_at).exists():
            return None
        review = AccessReview(policy=policy, access_package=policy.access_package,
                              settings=dict(policy.review_settings), start_at=start_at,
                              end_at=start_at + settings.duration, created_at=clock.now())
        try:
            with transaction.atomic():
                review.save(force_insert=True)
        except IntegrityError:  # one_review_per_policy_and_start: started meanwhile
            return None
        counts = {"decisions": _decisions_create(review, settings)}
        counts |= _reviewers_assign(review, settings, policy.access_package.catalog_id)
        counts["emails"] = _emails_queue(review) if counts["decisions"] else 0
        audit_record(actor=None, action="review.started", obj=review,
                     after={"state": review.state, "startAt": start_at.isoformat(),
                            "endAt": review.end_at.isoformat()},
                     details={"policy": policy.pk, **counts})
    return review


def reviews_start_due(*, now: datetime | None = None) -> int:
    """Start the current period's review of every policy with reviews enabled, unless it has
    started already or is over. Returns how many started."""
    now = now or clock.now()
    started = 0
    policies = (AssignmentPolicy.objects.filter(review_settings__isEnabled=True)
                .order_by("id").values_list("id", "review_settings"))
    for policy_id, data in policies:
        try:
            settings = review_settings_from_graph(data)
            start_at = settings.latest_start(now)
            if start_at is None or start_at + settings.duration <= now:
                continue
            if AccessReview.objects.filter(policy_id=policy_id, start_at=start_at).exists():
                continue
            started += review_start(policy_id=policy_id, start_at=start_at) is not None
        except Refused as exc:
            logger.warning("No review started for policy %s: %s", policy_id, exc)
    return started
