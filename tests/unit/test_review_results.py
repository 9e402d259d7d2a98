"""The mid-point reminder, the end of a review and the application of its results, and the
reviewers' selectors. Reviews are built by hand here (tests/review_helpers.py);
tests/unit/test_review_lifecycle.py runs whole reviews started by the workers."""

from datetime import timedelta

import pytest
import time_machine

from governance.choices import (
    AssignmentState,
    EndReason,
    ReviewAppliedResult,
    ReviewExpirationBehavior,
    ReviewRecommendation,
    ReviewState,
)
from governance.models import (
    Assignment,
    AuditEvent,
    DecisionReviewer,
    OutboxMessage,
)
from governance.selectors.reviews import (
    RESULT_COLUMNS,
    decisions_for_reviewer,
    review_counts,
    review_results,
    reviews_for_reviewer,
)
from governance.services import reviews as review_services
from governance.services.errors import InvalidState, NotAllowed, NotFound
from governance.services.requests import request_remove
from governance.services.reviews import (
    review_apply,
    review_decide,
    reviews_end_due,
    reviews_remind_due,
)
from governance.tasks import sweep_reviews
from tests.review_helpers import (
    APPROVE,
    DENY,
    DONT_KNOW,
    INACTIVE,
    decision_of,
    settings_change,
)

# The reminder


def test_the_reminder_goes_once_at_mid_point_to_reviewers_with_people_left(world, team):
    review, _, _ = team
    # A second reviewer of the requester alone, who has nobody left once that is answered.
    DecisionReviewer.objects.create(decision=decision_of(review, world.requester),
                                    user=world.second_approver)
    for person in (world.requester, world.member):
        review_decide(reviewer=world.approver, decision_id=decision_of(review, person).pk,
                      decision=APPROVE)
    middle = review.start_at + (review.end_at - review.start_at) / 2
    with time_machine.travel(middle - timedelta(minutes=1), tick=False):
        assert reviews_remind_due() == 0
    with time_machine.travel(middle, tick=False):
        assert reviews_remind_due() == 1
        assert reviews_remind_due() == 0
    with time_machine.travel(middle + timedelta(days=2), tick=False):
        assert reviews_remind_due() == 0
    # The colleague is left, for the approver and the owner (whose own access nobody
    # reviews here).
    reminders = OutboxMessage.objects.filter(topic="review_reminder")
    assert set(reminders.values_list("recipient", flat=True)) == {world.approver.pk,
                                                                  world.owner.pk}
    assert {message.payload["review_id"] for message in reminders} == {review.pk}
    review.refresh_from_db()
    assert review.reminded_at == middle
    assert AuditEvent.objects.get(action="review.reminded").details == {"reviewers": 2}


# The end and the results


def _end(review, **graph) -> dict:
    settings_change(review, **graph)
    with time_machine.travel(review.end_at, tick=False):
        assert reviews_end_due() == 1
        assert reviews_end_due() == 0
    review.refresh_from_db()
    return review_counts(review.pk)


@pytest.mark.parametrize(("behavior", "expected"), [
    (ReviewExpirationBehavior.KEEP_ACCESS, {"requester": "kept", "member": "kept"}),
    (ReviewExpirationBehavior.REMOVE_ACCESS, {"requester": "removed", "member": "removed"}),
    # The requester's recommendation is Deny, the member's Approve, the colleague's none.
    (ReviewExpirationBehavior.ACCEPT_RECOMMENDATION, {"requester": "removed",
                                                      "member": "kept"}),
])
def test_the_end_applies_the_decisions_and_the_no_answer_behavior(world, team, behavior,
                                                                 expected):
    review, assignments, colleague = team
    review_decide(reviewer=world.approver, decision_id=decision_of(review, colleague).pk,
                  decision=DENY)
    review_decide(reviewer=world.owner, decision_id=decision_of(review, world.member).pk,
                  decision=DONT_KNOW)
    counts = _end(review, expirationBehavior=behavior)
    assert review.state == ReviewState.APPLIED and review.completed_at == review.end_at
    results = {person: decision_of(review, person).applied_result
               for person in (world.requester, world.member, colleague, world.owner)}
    no_answer_for_owner = "removed" if behavior == ReviewExpirationBehavior.REMOVE_ACCESS \
        else "kept"
    assert results == {world.requester: expected["requester"], world.member: expected["member"],
                       colleague: ReviewAppliedResult.REMOVED,
                       world.owner: no_answer_for_owner}
    for person, result in results.items():
        assignment = Assignment.objects.get(pk=assignments[person].pk)
        if result == ReviewAppliedResult.REMOVED:
            assert (assignment.state, assignment.end_reason) == (
                AssignmentState.EXPIRED, EndReason.REMOVED_BY_REVIEW)
        else:
            assert assignment.state == AssignmentState.DELIVERED
    removed = sum(result == "removed" for result in results.values())
    assert (counts["removed"], counts["kept"], counts["total"]) == (removed, 4 - removed, 4)
    event = AuditEvent.objects.get(action="review.applied")
    assert event.details == counts and event.after == {"state": ReviewState.APPLIED}
    removals = AuditEvent.objects.filter(action="assignment.removed",
                                         after__endReason=EndReason.REMOVED_BY_REVIEW)
    assert removals.count() == removed
    owners_email = OutboxMessage.objects.get(topic="review_results")
    assert owners_email.recipient == world.owner
    assert owners_email.payload == {"review_id": review.pk, "counts": counts, "applied": True}


def test_access_that_ended_during_the_review_is_already_ended(world, team):
    review, assignments, _ = team
    request_remove(actor=world.member, assignment_id=assignments[world.member].pk)
    review_decide(reviewer=world.approver, decision_id=decision_of(review, world.member).pk,
                  decision=DENY)
    counts = _end(review, expirationBehavior=ReviewExpirationBehavior.KEEP_ACCESS)
    assert decision_of(review, world.member).applied_result == ReviewAppliedResult.ALREADY_ENDED
    assert counts["alreadyEnded"] == 1 and counts["removed"] == 0


def test_results_are_applied_a_batch_at_a_time(world, team, monkeypatch):
    review, _, _ = team
    monkeypatch.setattr(review_services, "APPLY_BATCH", 1)
    counts = _end(review, expirationBehavior=ReviewExpirationBehavior.REMOVE_ACCESS)
    assert counts["removed"] == 4 and review.state == ReviewState.APPLIED
    assert AuditEvent.objects.filter(action="review.applied").count() == 1


def test_a_review_that_does_not_apply_itself_waits_for_an_owner(world, team, assert_refused):
    review, assignments, _ = team
    review_decide(reviewer=world.approver, decision_id=decision_of(review, world.member).pk,
                  decision=DENY)
    with pytest.raises(InvalidState, match="in progress until"):
        review_apply(review_id=review.pk, actor=world.owner)
    _end(review, autoApplyDecisionsEnabled=False)
    assert review.state == ReviewState.COMPLETED
    assert Assignment.objects.get(pk=assignments[world.member].pk).state == \
        AssignmentState.DELIVERED
    waiting = OutboxMessage.objects.get(topic="review_results")
    assert waiting.payload["applied"] is False and waiting.recipient == world.owner
    assert_refused(lambda: review_apply(review_id=review.pk, actor=world.approver),
                   NotAllowed, "notAllowed", "may not apply")
    counts = review_apply(review_id=review.pk, actor=world.owner)
    assert counts["removed"] == 1
    assert AuditEvent.objects.get(action="review.applied").actor == world.owner
    assert AuditEvent.objects.get(action="assignment.removed").actor == world.owner
    with pytest.raises(InvalidState, match="were applied on"):
        review_apply(review_id=review.pk, actor=world.owner)
    with pytest.raises(NotFound):
        review_apply(review_id=10 ** 9, actor=world.owner)


def test_the_review_sweep_task_starts_reminds_and_ends(world, team):
    review, _, _ = team
    with time_machine.travel(review.end_at + timedelta(minutes=1), tick=False):
        assert sweep_reviews() == {"started": 0, "reminded": 0, "ended": 1}


# Selectors


def test_a_reviewer_sees_their_reviews_with_counts_and_their_people(world, team):
    review, _, colleague = team
    review_decide(reviewer=world.approver, decision_id=decision_of(review, colleague).pk,
                  decision=APPROVE)
    (mine,) = reviews_for_reviewer(world.approver)
    assert (mine.pk, mine.total, mine.to_review) == (review.pk, 3, 2)
    (owners,) = reviews_for_reviewer(world.owner)
    assert (owners.total, owners.to_review) == (3, 2)  # everyone but the owner
    assert list(reviews_for_reviewer(world.requester)) == []
    people = [decision.principal for decision in decisions_for_reviewer(world.approver,
                                                                        review.pk)]
    assert people == sorted(people, key=lambda person: person.display_name)
    assert set(people) == {world.requester, world.member, colleague}
    with time_machine.travel(review.end_at, tick=False):
        assert list(reviews_for_reviewer(world.approver)) == []


def test_the_results_export_has_a_row_per_person(world, team):
    review, _, _ = team
    review_decide(reviewer=world.approver, decision_id=decision_of(review, world.member).pk,
                  decision=APPROVE, justification="Works on it")
    _end(review)
    rows = {row[1]: dict(zip(RESULT_COLUMNS, row, strict=True))
            for row in review_results(review)}
    assert len(rows) == 4
    member = rows[world.member.email]
    assert (member["Decision"], member["Reviewed by"], member["Justification"],
            member["Recommendation"], member["Applied result"]) == (
        APPROVE, world.approver.email, "Works on it", ReviewRecommendation.APPROVE, "kept")
    assert member["Reviewed at"] and member["Applied at"]
    assert rows[world.requester.email]["Recommendation reason"] == INACTIVE[1]
