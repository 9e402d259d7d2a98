"""Two approvers of the same stage decide at the same moment: the first decision wins."""

import itertools
import threading

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.choices import Decision, RequestState, StageState, SubjectSetType
from governance.models import (
    ApprovalDecision,
    ApprovalStage,
    ApproverSet,
    AuditEvent,
    OutboxMessage,
)
from governance.services.approvals import stage_decide
from governance.services.errors import InvalidState
from governance.services.requests import request_submit
from tests.concurrency.race import run_together
from tests.factories import GuestFactory, UserFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROUNDS = 50


@pytest.fixture
def rivals(world):
    """Two more single-user approvers of stage 1, besides the world's own approver."""
    setting = world.policy.stages.get(order=1)
    people = (UserFactory(email="first.rival@access.example", display_name="First Rival"),
              UserFactory(email="second.rival@access.example", display_name="Second Rival"))
    for person in people:
        ApproverSet.objects.create(stage=setting, subject_type=SubjectSetType.SINGLE_USER,
                                   user=person)
    return people


def _pending_request(world):
    requester = GuestFactory(connected_organization=world.organization)
    return request_submit(requestor=requester, access_package_id=world.package.pk,
                          justification="Joining the Falcon project",
                          answers={world.question.pk: "FAL-2026"})


def test_two_approvers_deciding_at_once_record_one_decision(world, rivals):
    pairs = list(itertools.product([Decision.APPROVE, Decision.DENY], repeat=2))
    for round_number in range(ROUNDS):
        decisions = pairs[round_number % len(pairs)]
        request = _pending_request(world)
        stage, second_stage = request.stages.order_by("order")
        outcomes = run_together(*[
            lambda person=person, decision=decision, stage_id=stage.pk: stage_decide(
                stage_id=stage_id, approver=person, decision=decision,
                justification=f"{decision} by {person}")
            for person, decision in zip(rivals, decisions, strict=True)])

        winners = [i for i, outcome in enumerate(outcomes) if outcome.ok]
        assert len(winners) == 1, [outcome.error for outcome in outcomes]
        winner, loser = rivals[winners[0]], outcomes[1 - winners[0]].error
        winning_decision = decisions[winners[0]]
        verb = "approved" if winning_decision == Decision.APPROVE else "denied"
        assert isinstance(loser, InvalidState), repr(loser)
        assert loser.code == "alreadyDecided"
        assert str(loser).startswith(f"This stage was already {verb} by {winner} on ")

        decision = ApprovalDecision.objects.get(stage=stage)
        assert (decision.approver, decision.result) == (winner, winning_decision)
        stage.refresh_from_db()
        request.refresh_from_db()
        second_stage.refresh_from_db()
        decided = AuditEvent.objects.filter(
            object_type="approvalstage", object_id=str(stage.pk),
            action__in=["stage.approved", "stage.denied"])
        assert list(decided.values_list("action", "actor_label")) == [
            (f"stage.{verb}", winner.email)]
        if winning_decision == Decision.APPROVE:
            assert stage.state == StageState.APPROVED
            assert request.state == RequestState.PENDING_APPROVAL
            assert second_stage.state == StageState.IN_PROGRESS
            assert AuditEvent.objects.filter(action="stage.started",
                                             object_id=str(second_stage.pk)).count() == 1
            assert OutboxMessage.objects.filter(
                topic="approval_needed", payload__stage_id=second_stage.pk).count() == 1
        else:
            assert stage.state == StageState.DENIED
            assert request.state == RequestState.DENIED
            assert second_stage.state == StageState.NOT_STARTED
            assert OutboxMessage.objects.filter(
                topic="request_denied", payload__request_id=request.pk).count() == 1


def test_without_the_request_lock_both_approvers_see_the_stage_open(world, rivals):
    """The race stage_decide's lock closes: unlocked reads both pass the "still open" check,
    and only the one-decision-per-stage constraint then stops the second, as an IntegrityError.
    """
    stage = _pending_request(world).stages.get(order=1)
    seen = []
    both_checked = threading.Barrier(2, timeout=30)

    def naive_decide(person):
        with transaction.atomic():
            state = ApprovalStage.objects.get(pk=stage.pk).state  # no select_for_update
            seen.append(state)
            both_checked.wait()
            if state == StageState.IN_PROGRESS:
                ApprovalDecision.objects.create(stage_id=stage.pk, approver=person,
                                                result=Decision.APPROVE,
                                                decided_at=timezone.now())

    outcomes = run_together(*[lambda person=person: naive_decide(person) for person in rivals])

    assert seen == [StageState.IN_PROGRESS, StageState.IN_PROGRESS]
    failures = [outcome.error for outcome in outcomes if not outcome.ok]
    assert len(failures) == 1 and isinstance(failures[0], IntegrityError), failures
    assert ApprovalDecision.objects.filter(stage=stage).count() == 1
