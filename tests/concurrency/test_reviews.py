"""A decision in flight when its review ends. Without the review's shared lock the end can
close and apply the review between the reviewer's check and their write, and the decision
lands after the results were read; with it the end skips the review until the reviewer is
done (the next minute's sweep closes it), so a decision is in the results or refused."""

import threading

import pytest
import time_machine
from django.db import connection

from governance.choices import (
    ReviewAppliedResult,
    ReviewDecisionValue,
    ReviewerType,
    ReviewState,
)
from governance.models import AccessReview
from governance.models.review_settings import Reviewer
from governance.services import reviews
from governance.services.errors import InvalidState
from governance.services.reviews import review_decide, reviews_end_due
from tests.review_helpers import decision_of, holders, review_by_hand, reviews_on

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _plain_read(review_id: int, *, shared: bool):
    return AccessReview.objects.filter(pk=review_id).first()


@pytest.fixture
def review(world):
    """The approver reviews the member's access; access nobody answers for is kept."""
    package, policy, assignments = holders(world, [world.member])
    reviews_on(policy, primary=(Reviewer(ReviewerType.SINGLE_USER,
                                         user_id=world.approver.pk),))
    return review_by_hand(policy, assignments.values(), whole_review=[world.approver])


@pytest.mark.parametrize("locked", [False, True], ids=["plain read", "shared lock"])
def test_a_decision_in_flight_when_the_review_ends(world, review, monkeypatch, locked):
    read_review = reviews._lock_review if locked else _plain_read
    paused, resume = threading.Event(), threading.Event()
    decided = {}

    def read_then_pause(review_id, *, shared):
        found = read_review(review_id, shared=shared)
        paused.set()
        assert resume.wait(30)
        return found

    monkeypatch.setattr(reviews, "_lock_review", read_then_pause)
    decision = decision_of(review, world.member)

    def reviewer():
        try:
            decided["value"] = review_decide(reviewer=world.approver, decision_id=decision.pk,
                                             decision=ReviewDecisionValue.DENY)
        except InvalidState as refusal:
            decided["error"] = refusal
        finally:
            connection.close()

    # The reviewer's clock says a second before the end; the sweep runs at the end.
    with time_machine.travel(review.end_at.timestamp() - 1, tick=False):
        thread = threading.Thread(target=reviewer, daemon=True)
        thread.start()
        assert paused.wait(30)
        try:
            ended_meanwhile = reviews_end_due(now=review.end_at)
        finally:
            resume.set()
            thread.join(30)
        assert not thread.is_alive()
        ended_later = reviews_end_due(now=review.end_at)

    decision.refresh_from_db()
    review.refresh_from_db()
    assert review.state == ReviewState.APPLIED
    assert "value" in decided, decided  # the reviewer checked in time, so was not refused
    assert decision.decision == ReviewDecisionValue.DENY
    if locked:
        # The end skipped the review the reviewer held, and closed it at its next run, with
        # the decision in the results.
        assert (ended_meanwhile, ended_later) == (0, 1)
        assert decision.applied_result == ReviewAppliedResult.REMOVED
    else:
        # The race: the review was applied (access kept, nobody had answered) before the
        # Deny was written, which then changed a closed review.
        assert (ended_meanwhile, ended_later) == (1, 0)
        assert decision.applied_result == ReviewAppliedResult.KEPT
        assert decision.reviewed_at is not None and review.applied_at is not None
