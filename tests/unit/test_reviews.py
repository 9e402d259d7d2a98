"""Review decisions, accepted recommendations, the mid-point reminder, the end of a review and
the application of its results; the reviewers' selectors. Reviews are built by hand here;
tests/unit/test_review_lifecycle.py runs whole reviews started by the workers."""

from datetime import timedelta

import pytest
import time_machine

from governance import clock
from governance.choices import (
    AssignmentState,
    EndReason,
    ReviewAppliedResult,
    ReviewDecisionValue,
    ReviewerType,
    ReviewExpirationBehavior,
    ReviewRecommendation,
    ReviewState,
)
from governance.models import (
    AccessReview,
    Assignment,
    AuditEvent,
    DecisionReviewer,
    OutboxMessage,
)
from governance.review_settings import Reviewer
from governance.selectors.reviews import (
    RESULT_COLUMNS,
    decisions_for_reviewer,
    may_review,
    review_counts,
    review_results,
    reviews_for_reviewer,
)
from governance.services import reviews as review_services
from governance.services.errors import InvalidInput, InvalidState, NotAllowed, NotFound
from governance.services.requests import request_remove
from governance.services.reviews import (
    review_accept_recommendations,
    review_apply,
    review_decide,
    reviews_end_due,
    reviews_remind_due,
)
from governance.tasks import sweep_reviews
from tests.factories import UserFactory
from tests.review_helpers import (
    decision_of,
    decisions_state,
    holders,
    review_by_hand,
    reviews_on,
)

APPROVE, DENY, DONT_KNOW, NOT_REVIEWED = (ReviewDecisionValue.APPROVE, ReviewDecisionValue.DENY,
                                          ReviewDecisionValue.DONT_KNOW,
                                          ReviewDecisionValue.NOT_REVIEWED)
INACTIVE = (ReviewRecommendation.DENY, "Has not signed in for 30 days")
ACTIVE = (ReviewRecommendation.APPROVE, "Signed in within the last 30 days")


@pytest.fixture
def team(world):
    """Three people hold a package; the approver is their manager and reviews each of them,
    the owner reviews the whole review (and holds the package too)."""
    colleague = UserFactory(email="colleague@access.example", display_name="Colleague")
    people = [world.requester, world.member, colleague, world.owner]
    package, policy, assignments = holders(world, people)
    reviews_on(policy, primary=(Reviewer(ReviewerType.MANAGER),
                                Reviewer(ReviewerType.SINGLE_USER, user_id=world.owner.pk)))
    review = review_by_hand(
        policy, assignments.values(),
        reviewers={assignments[person]: [world.approver] for person in people[:3]},
        whole_review=[world.owner],
        recommendations={assignments[world.requester]: INACTIVE,
                         assignments[world.member]: ACTIVE})
    return review, assignments, colleague


def _settings(review: AccessReview, **graph):
    review.settings = {**review.settings, **graph}
    review.save(update_fields=["settings"])


# Decisions


def test_a_reviewer_decides_and_can_change_the_decision_until_the_end(world, team):
    review, _, _ = team
    decision = decision_of(review, world.requester)
    review_decide(reviewer=world.approver, decision_id=decision.pk, decision=APPROVE,
                  justification="  Still on the project ")
    decision.refresh_from_db()
    assert (decision.decision, decision.justification, decision.reviewed_by) == (
        APPROVE, "Still on the project", world.approver)
    assert decision.reviewed_at is not None
    review_decide(reviewer=world.owner, decision_id=decision.pk, decision=DENY,
                  justification="Left the project")
    decision.refresh_from_db()
    assert (decision.decision, decision.reviewed_by) == (DENY, world.owner)
    first, second = AuditEvent.objects.filter(action="review.decided").order_by("id")
    assert first.before["decision"] == NOT_REVIEWED and first.after["decision"] == APPROVE
    assert first.actor == world.approver and first.object_id == str(decision.pk)
    assert (second.before["decision"], second.after["decision"]) == (APPROVE, DENY)
    assert second.after["justification"] == "Left the project"


def test_dont_know_is_a_decision(world, team):
    review, _, _ = team
    decision = decision_of(review, world.member)
    review_decide(reviewer=world.approver, decision_id=decision.pk, decision=DONT_KNOW)
    decision.refresh_from_db()
    assert decision.decision == DONT_KNOW


def test_a_self_review_lets_people_answer_for_their_own_access(world, team):
    review, _, _ = team
    _settings(review, isSelfReview=True)
    decision = decision_of(review, world.owner)  # the owner reviews the whole review
    review_decide(reviewer=world.owner, decision_id=decision.pk, decision=APPROVE)
    decision.refresh_from_db()
    assert decision.decision == APPROVE


def _refused_decision(assert_refused, review, call, error, code, *words):
    before = decisions_state(review)
    assert_refused(call, error, code, *words)
    assert decisions_state(review) == before


def test_decisions_outside_the_reviewers_scope_are_refused_as_not_found(world, team,
                                                                       assert_refused):
    review, _, colleague = team
    requester_decision = decision_of(review, world.requester)
    for reviewer, decision_id in [
        (world.outsider, requester_decision.pk),       # no reviewer of this review
        (colleague, requester_decision.pk),            # reviewed, but not a reviewer
        (world.requester, requester_decision.pk),      # their own access, not a self-review
        (world.owner, decision_of(review, world.owner).pk),  # reviews everyone but themselves
        (world.approver, 10 ** 9),                     # no such decision
    ]:
        _refused_decision(assert_refused, review,
                          lambda r=reviewer, d=decision_id: review_decide(
                              reviewer=r, decision_id=d, decision=APPROVE, justification="x"),
                          NotFound, "decisionNotFound", "not yours to review")
    assert not may_review(world.requester, requester_decision)
    assert may_review(world.owner, requester_decision)


@pytest.mark.parametrize("closing", ["completed", "applied", "past its end"])
def test_a_decision_on_a_closed_review_is_refused(world, team, assert_refused, closing):
    review, _, _ = team
    decision = decision_of(review, world.member)
    moment = clock.now() + timedelta(days=15)
    if closing != "past its end":
        AccessReview.objects.filter(pk=review.pk).update(
            state=ReviewState.COMPLETED if closing == "completed" else ReviewState.APPLIED,
            completed_at=review.end_at)
    with time_machine.travel(moment, tick=False):
        _refused_decision(assert_refused, review,
                          lambda: review_decide(reviewer=world.approver,
                                                decision_id=decision.pk, decision=DENY),
                          InvalidState, "reviewClosed", "This review ended on",
                          "decisions can no longer change")


@pytest.mark.parametrize("value", [NOT_REVIEWED, "Maybe", ""])
def test_a_decision_other_than_approve_deny_or_dont_know_is_refused(world, team,
                                                                   assert_refused, value):
    review, _, _ = team
    decision = decision_of(review, world.member)
    _refused_decision(assert_refused, review,
                      lambda: review_decide(reviewer=world.approver, decision_id=decision.pk,
                                            decision=value),
                      InvalidInput, "invalidDecision", "Approve, Deny or Don't know")


@pytest.mark.parametrize("value", [APPROVE, DENY, DONT_KNOW])
def test_a_required_justification_is_refused_when_blank(world, team, assert_refused, value):
    review, _, _ = team
    _settings(review, isReviewerJustificationRequired=True)
    decision = decision_of(review, world.member)

    def decide():
        review_decide(reviewer=world.approver, decision_id=decision.pk, decision=value,
                      justification="   ")

    before = decisions_state(review)
    refusal = assert_refused(decide, InvalidInput, "justificationRequired", "justification")
    assert refusal.field == "justification"
    assert decisions_state(review) == before
    review_decide(reviewer=world.approver, decision_id=decision.pk, decision=value,
                  justification="Checked with the team")


# Accepting recommendations


def test_accepting_all_recommendations_answers_the_unanswered_ones_with_a_reason(world, team):
    review, _, colleague = team
    review_decide(reviewer=world.approver, decision_id=decision_of(review, colleague).pk,
                  decision=DONT_KNOW)
    assert review_accept_recommendations(reviewer=world.approver, review_id=review.pk) == 2
    requester, member, other = (decision_of(review, person)
                                for person in (world.requester, world.member, colleague))
    assert (requester.decision, requester.reviewed_by) == (DENY, world.approver)
    assert requester.justification == "Accepted the recommendation: Has not signed in for 30 days"
    assert member.decision == APPROVE
    assert other.decision == DONT_KNOW  # answered already: left alone
    events = AuditEvent.objects.filter(action="review.decided",
                                       details__acceptedRecommendation=True)
    assert sorted(events.values_list("object_id", flat=True)) == sorted(
        [str(requester.pk), str(member.pk)])
    assert review_accept_recommendations(reviewer=world.approver, review_id=review.pk) == 0


def test_accepting_chosen_recommendations_and_refusing_others_decisions(world, team,
                                                                      assert_refused):
    review, _, _ = team
    _settings(review, isReviewerJustificationRequired=True)
    requester, member = decision_of(review, world.requester), decision_of(review, world.member)
    _refused_decision(assert_refused, review,
                      lambda: review_accept_recommendations(
                          reviewer=world.approver, review_id=review.pk,
                          decision_ids=[requester.pk, decision_of(review, world.owner).pk]),
                      NotFound, "decisionNotFound", "not yours to review")
    _refused_decision(assert_refused, review,
                      lambda: review_accept_recommendations(reviewer=world.outsider,
                                                            review_id=review.pk),
                      NotFound, "reviewNotFound", "nothing in it for you")
    assert review_accept_recommendations(reviewer=world.approver, review_id=review.pk,
                                         decision_ids=[requester.pk]) == 1
    member.refresh_from_db()
    assert decision_of(review, world.requester).decision == DENY
    assert member.decision == NOT_REVIEWED


def test_accepting_recommendations_on_a_closed_review_is_refused(world, team, assert_refused):
    review, _, _ = team
    with time_machine.travel(review.end_at, tick=False):
        _refused_decision(assert_refused, review,
                          lambda: review_accept_recommendations(reviewer=world.approver,
                                                                review_id=review.pk),
                          InvalidState, "reviewClosed", "decisions can no longer change")


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
    _settings(review, **graph)
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
