"""Access reviews under way and at their end: decisions, accepted recommendations, the
mid-point reminder, the end of a review and the application of its results.

Lock order: the review, then its decisions, then the assignments (through the removal
service). Reviewers take the review FOR SHARE, so that many decide at once while the end of
the review (FOR UPDATE) waits for them, and no decision slips in after the review closed.
Starting reviews is `review_start`.
"""

from django.db import connection, transaction
from django.db.models import Case, CharField, F, Value, When
from django.db.models.functions import Concat
from django.utils.formats import date_format
from django.utils.timezone import localtime

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    CatalogRole,
    EndReason,
    ReviewAppliedResult,
    ReviewDecisionValue,
    ReviewExpirationBehavior,
    ReviewRecommendation,
    ReviewState,
)
from governance.models import AccessReview, ReviewDecision, User
from governance.models.review_settings import review_settings_from_graph
from governance.selectors.permissions import can_manage_assignments
from governance.selectors.reviews import review_counts, reviewable_decisions, reviewers_waiting
from governance.services.audit import audit_record, audit_record_many
from governance.services.errors import InvalidInput, InvalidState, NotAllowed, NotFound
from governance.services.expiry import assignments_end
from governance.services.internal.bulk import ids_in
from governance.services.outbox import email, notify, notify_messages

DECIDABLE = (ReviewDecisionValue.APPROVE, ReviewDecisionValue.DENY,
             ReviewDecisionValue.DONT_KNOW)
JUSTIFICATION_MAX = 2000
ACCEPTED = "Accepted the recommendation"
APPLY_BATCH = 500
EMAIL_BATCH = 2000


def _moment(value) -> str:
    return date_format(localtime(value), "DATETIME_FORMAT")


def _not_found() -> NotFound:
    return NotFound("This review does not exist, or there is nothing in it for you to review.",
                    code="reviewNotFound")


def _lock_review(review_id: int, *, shared: bool) -> AccessReview | None:
    """The review, locked FOR SHARE (reviewers) or FOR UPDATE (its end)."""
    if shared and connection.vendor == "postgresql":
        table = AccessReview._meta.db_table
        query = f'SELECT * FROM "{table}" WHERE "id" = %s FOR SHARE'  # nosec B608  # model's table
        found = list(AccessReview.objects.raw(query, [review_id]))
        return found[0] if found else None
    return AccessReview.objects.select_for_update().filter(pk=review_id).first()


def _refuse_closed(review: AccessReview) -> None:
    if review.state == ReviewState.IN_PROGRESS and review.end_at > clock.now():
        return
    ended = min(filter(None, (review.end_at, review.completed_at)))
    raise InvalidState(f"This review ended on {_moment(ended)}; decisions can no longer change.",
                       code="reviewClosed")


def _snapshot(row: ReviewDecision) -> dict:
    return {"decision": row.decision, "justification": row.justification,
            "reviewedBy": row.reviewed_by_id}


def review_decide(*, reviewer: User, decision_id: int, decision: str,
                  justification: str = "") -> ReviewDecision:
    """Approve, Deny or Don't know for one person; a later call overwrites, until the end.

    :raises NotFound: no such decision, or not one `reviewer` may review.
    :raises InvalidState: the review has ended.
    :raises InvalidInput: another decision value, or a required justification missing.
    """
    with transaction.atomic():
        review_id = ReviewDecision.objects.filter(pk=decision_id).values_list(
            "review_id", flat=True).first()
        review = _lock_review(review_id, shared=True) if review_id else None
        row = None
        if review is not None:
            row = (reviewable_decisions(reviewer).filter(pk=decision_id)
                   .select_for_update(of=("self",)).first())
        if row is None:
            raise NotFound("This decision does not exist, or it is not yours to review.",
                           code="decisionNotFound")
        _refuse_closed(review)
        if decision not in DECIDABLE:
            raise InvalidInput("Choose Approve, Deny or Don't know.", field="decision",
                               code="invalidDecision")
        justification = (justification or "").strip()
        if review_settings_from_graph(review.settings).is_justification_required \
                and not justification:
            raise InvalidInput("This review asks for a justification with every decision.",
                               field="justification", code="justificationRequired")
        if len(justification) > JUSTIFICATION_MAX:
            raise InvalidInput(f"The justification can be at most {JUSTIFICATION_MAX} "
                               "characters long.", field="justification")
        before = _snapshot(row)
        row.decision, row.justification = decision, justification
        row.reviewed_by, row.reviewed_at = reviewer, clock.now()
        row.save(update_fields=["decision", "justification", "reviewed_by", "reviewed_at"])
        audit_record(actor=reviewer, action="review.decided", obj=row, before=before,
                     after=_snapshot(row),
                     details={"review": review.pk, "principal": row.principal_id})
        return row


def review_accept_recommendations(*, reviewer: User, review_id: int,
                                  decision_ids: list[int] | None = None) -> int:
    """Take the recommendation (Approve or Deny) for each of `reviewer`'s unanswered decisions
    in the review, or for those of `decision_ids`; returns how many were decided.

    Decisions already answered or without a recommendation are left as they are.

    :raises NotFound: no such review, nothing in it for `reviewer`, or a decision of
        `decision_ids` that is not theirs to review.
    :raises InvalidState: the review has ended.
    """
    with transaction.atomic():
        review = _lock_review(review_id, shared=True)
        mine = reviewable_decisions(reviewer).filter(review_id=review_id)
        if review is None or not mine.exists():
            raise _not_found()
        if decision_ids is not None:
            wanted = set(decision_ids)
            if mine.filter(pk__in=ids_in(wanted)).count() != len(wanted):
                raise NotFound("One of these decisions does not exist, or it is not yours to "
                               "review.", code="decisionNotFound")
            mine = mine.filter(pk__in=ids_in(wanted))
        _refuse_closed(review)
        rows = list(mine.filter(decision=ReviewDecisionValue.NOT_REVIEWED,
                                recommendation__in=[ReviewRecommendation.APPROVE,
                                                    ReviewRecommendation.DENY])
                    .select_for_update(of=("self",)).order_by("id")
                    .values("id", "recommendation", "recommendation_reason", "principal_id"))
        if not rows:
            return 0
        now = clock.now()
        ReviewDecision.objects.filter(pk__in=ids_in([row["id"] for row in rows])).update(
            decision=F("recommendation"), reviewed_by=reviewer, reviewed_at=now,
            justification=Case(
                When(recommendation_reason="", then=Value(f"{ACCEPTED}.")),
                default=Concat(Value(f"{ACCEPTED}: "), F("recommendation_reason")),
                output_field=CharField()))
        audit_record_many(actor=reviewer, action="review.decided", object_type="reviewdecision",
                          entries=[(row["id"],
                                    {"decision": ReviewDecisionValue.NOT_REVIEWED},
                                    {"decision": row["recommendation"],
                                     "justification": _accepted(row["recommendation_reason"])},
                                    {"review": review_id, "principal": row["principal_id"],
                                     "acceptedRecommendation": True})
                                   for row in rows])
        return len(rows)


def _accepted(reason: str) -> str:
    return f"{ACCEPTED}: {reason}" if reason else f"{ACCEPTED}."


def _remind(review: AccessReview, now) -> int:
    sent = 0
    reviewers = reviewers_waiting(review).order_by("pk").values_list("pk", "email")
    batch = []
    for user_id, address in reviewers.iterator(chunk_size=EMAIL_BATCH):
        batch.append(email(topic="review_reminder", recipient_id=user_id, to_address=address,
                           payload={"review_id": review.pk},
                           dedupe_key=f"review_reminder:{review.pk}:{user_id}"))
        if len(batch) == EMAIL_BATCH:
            sent += notify_messages(batch)
            batch = []
    sent += notify_messages(batch)
    AccessReview.objects.filter(pk=review.pk).update(reminded_at=now)
    audit_record(actor=None, action="review.reminded", obj=review,
                 after={"remindedAt": now.isoformat()}, details={"reviewers": sent})
    return sent


def reviews_remind_due(*, now=None) -> int:
    """Remind, once per review at its mid-point, everyone with a decision still unanswered.

    Returns how many reviews were reminded.
    """
    now = now or clock.now()
    # Open reviews are few (one per policy at most): the mid-point is reckoned here, the
    # same on PostgreSQL and SQLite.
    candidates = AccessReview.objects.filter(state=ReviewState.IN_PROGRESS,
                                             reminded_at__isnull=True, start_at__lte=now,
                                             end_at__gt=now).values_list("pk", "start_at",
                                                                         "end_at")
    due = [pk for pk, start, end in candidates if start + (end - start) / 2 <= now]
    reminded = 0
    for review_id in due:
        with transaction.atomic():
            review = AccessReview.objects.select_for_update(skip_locked=True).filter(
                pk=review_id, state=ReviewState.IN_PROGRESS, reminded_at__isnull=True).first()
            if review is not None:
                _remind(review, now)
                reminded += 1
    return reminded


def _tell_owners(review: AccessReview, counts: dict, *, applied: bool) -> int:
    owners = (User.objects.filter(is_active=True, catalog_roles__role=CatalogRole.OWNER,
                                  catalog_roles__catalog_id=review.access_package.catalog_id)
              .exclude(email="").distinct())
    return notify(topic="review_results", recipients=owners,
                  payload={"review_id": review.pk, "counts": counts, "applied": applied},
                  dedupe_key=f"review_results:{review.pk}:{'applied' if applied else 'ended'}")


def _auto_applies(review_settings: dict) -> bool:
    return (review_settings or {}).get("autoApplyDecisionsEnabled", True) is not False


def reviews_end_due(*, now=None, batch_size: int = 100) -> int:
    """Close every review in progress whose end has come, then apply the results of those
    that apply themselves (also any whose application a stopped worker left unfinished).

    Returns how many reviews were closed.
    """
    now = now or clock.now()
    ended = 0
    while True:
        with transaction.atomic():
            reviews = list(AccessReview.objects.filter(state=ReviewState.IN_PROGRESS,
                                                       end_at__lte=now)
                           .select_for_update(skip_locked=True, of=("self",))
                           .select_related("access_package").order_by("id")[:batch_size])
            AccessReview.objects.filter(pk__in=[review.pk for review in reviews]).update(
                state=ReviewState.COMPLETED, completed_at=now)
            audit_record_many(actor=None, action="review.completed", object_type="accessreview",
                              entries=[(review.pk, {"state": ReviewState.IN_PROGRESS},
                                        {"state": ReviewState.COMPLETED},
                                        {"endAt": review.end_at.isoformat()})
                                       for review in reviews])
            for review in reviews:
                if not _auto_applies(review.settings):
                    _tell_owners(review, review_counts(review.pk), applied=False)
        ended += len(reviews)
        if len(reviews) < batch_size:
            break
    for review_id, review_settings in AccessReview.objects.filter(
            state=ReviewState.COMPLETED).order_by("id").values_list("pk", "settings"):
        if _auto_applies(review_settings):
            _apply(review_id, actor=None, wait=False)
    return ended


def _outcome(row: dict, behavior: str) -> str:
    """What the review does to one assignment: kept or removed."""
    decision = row["decision"]
    if decision == ReviewDecisionValue.APPROVE:
        return ReviewAppliedResult.KEPT
    if decision == ReviewDecisionValue.DENY:
        return ReviewAppliedResult.REMOVED
    # Don't know, or nobody answered: the review's expirationBehavior.
    if behavior == ReviewExpirationBehavior.REMOVE_ACCESS or (
            behavior == ReviewExpirationBehavior.ACCEPT_RECOMMENDATION
            and row["recommendation"] == ReviewRecommendation.DENY):
        return ReviewAppliedResult.REMOVED
    return ReviewAppliedResult.KEPT


def _apply_batch(review: AccessReview, behavior: str, actor: User | None,
                 batch_size: int, after_id: int) -> list[int]:
    """Apply the next `batch_size` decisions after `after_id`; returns their ids."""
    rows = list(ReviewDecision.objects.filter(review=review, pk__gt=after_id,
                                              applied_result=ReviewAppliedResult.NOT_APPLIED)
                .select_for_update(of=("self",)).order_by("id")
                .values("id", "decision", "recommendation", "assignment_id",
                        "assignment__state")[:batch_size])
    results, to_remove = {}, {}
    for row in rows:
        if row["assignment__state"] not in ASSIGNMENT_ACTIVE:
            results[row["id"]] = ReviewAppliedResult.ALREADY_ENDED
        elif _outcome(row, behavior) == ReviewAppliedResult.REMOVED:
            to_remove[row["assignment_id"]] = row["id"]
        else:
            results[row["id"]] = ReviewAppliedResult.KEPT
    ended = set()
    if to_remove:
        ended = set(assignments_end(assignment_ids=list(to_remove),
                                    reason=EndReason.REMOVED_BY_REVIEW, actor=actor))
    for assignment_id, decision_id in to_remove.items():
        # Ended by someone else between the read and the removal's lock: already ended.
        results[decision_id] = (ReviewAppliedResult.REMOVED if assignment_id in ended
                                else ReviewAppliedResult.ALREADY_ENDED)
    now = clock.now()
    for result in (ReviewAppliedResult.KEPT, ReviewAppliedResult.REMOVED,
                   ReviewAppliedResult.ALREADY_ENDED):
        ids = [decision_id for decision_id, value in results.items() if value == result]
        if ids:
            ReviewDecision.objects.filter(pk__in=ids_in(ids)).update(applied_result=result,
                                                                     applied_at=now)
    return [row["id"] for row in rows]


def _apply(review_id: int, *, actor: User | None, wait: bool,
           batch_size: int = APPLY_BATCH) -> dict | None:
    """Apply a completed review's results, a batch of decisions per transaction, so that a
    review of 100,000 people neither holds one huge transaction nor starts over when a worker
    stops. Returns the counts, or None when the review is not (or no longer) completed, or
    (without `wait`) another worker is applying it."""
    after_id = 0  # past the last batch: no walk over the decisions already applied
    while True:
        with transaction.atomic():
            reviews = AccessReview.objects.select_related("access_package").filter(
                pk=review_id, state=ReviewState.COMPLETED)
            review = reviews.select_for_update(skip_locked=not wait, of=("self",)).first()
            if review is None:
                return None
            behavior = review_settings_from_graph(review.settings).expiration_behavior
            applied = _apply_batch(review, behavior, actor, batch_size, after_id)
            if len(applied) == batch_size:
                after_id = applied[-1]
                continue
            now = clock.now()
            review.state, review.applied_at = ReviewState.APPLIED, now
            review.save(update_fields=["state", "applied_at"])
            counts = review_counts(review.pk)
            audit_record(actor=actor, action="review.applied", obj=review,
                         before={"state": ReviewState.COMPLETED},
                         after={"state": ReviewState.APPLIED}, details=counts)
            _tell_owners(review, counts, applied=True)
            return counts


def review_apply(*, review_id: int, actor: User | None = None) -> dict:
    """Apply the results of a completed review: Approve keeps, Deny removes (through the
    removal service), Don't know and no answer follow the review's expirationBehavior.

    `actor` is the owner applying a review that does not apply itself, from the admin; they
    must manage the assignments of the package's catalog. Returns the counts of decisions
    and results (`review_counts`).

    :raises NotFound: no such review.
    :raises NotAllowed: `actor` may not manage the catalog's assignments.
    :raises InvalidState: the review is still in progress, or its results were applied.
    """
    review = AccessReview.objects.select_related("access_package__catalog").filter(
        pk=review_id).first()
    if review is None:
        raise NotFound("This review does not exist.", code="reviewNotFound")
    if actor is not None and not can_manage_assignments(actor, review.access_package.catalog):
        raise NotAllowed("You may not apply the results of reviews in this catalog.")
    if review.state == ReviewState.IN_PROGRESS:
        raise InvalidState(f"This review is in progress until {_moment(review.end_at)}; its "
                           "results can be applied once it has ended.", code="reviewInProgress")
    counts = _apply(review_id, actor=actor, wait=True)
    if counts is None:
        review.refresh_from_db(fields=["applied_at"])
        raise InvalidState(f"The results of this review were applied on "
                           f"{_moment(review.applied_at)}.", code="reviewApplied")
    return counts


__all__ = ["review_accept_recommendations", "review_apply", "review_decide",
           "reviews_end_due", "reviews_remind_due"]
