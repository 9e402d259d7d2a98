"""Review decisions and accepted recommendations: changed until the end, refused with a
reason. Reviews are built by hand here; tests/unit/test_review_results.py covers the
reminder, the end and the results, and tests/unit/test_review_lifecycle.py runs whole
reviews started by the workers."""

from datetime import timedelta

import pytest
import time_machine

from governance import clock
from governance.choices import (
    ReviewState,
)
from governance.models import (
    AccessReview,
    AuditEvent,
)
from governance.selectors.reviews import (
    may_review,
)
from governance.services.errors import InvalidInput, InvalidState, NotFound
from governance.services.reviews import (
    review_accept_recommendations,
    review_decide,
)
from tests.review_helpers import (
    APPROVE,
    DENY,
    DONT_KNOW,
    NOT_REVIEWED,
    decision_of,
    decisions_state,
    settings_change,
)

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
    settings_change(review, isSelfReview=True)
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
    settings_change(review, isReviewerJustificationRequired=True)
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
    settings_change(review, isReviewerJustificationRequired=True)
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
