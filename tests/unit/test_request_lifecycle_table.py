"""REQUEST_TRANSITIONS, walked: for every pair of request states and every cause, the move
happens through the lifecycle service (state, status, completion, one audit event) when the
table has it, and is refused with InvalidState, changing nothing, when it does not."""

import itertools

import pytest

from governance import clock
from governance.choices import (
    REQUEST_FINAL,
    REQUEST_OPEN,
    REQUEST_TRANSITIONS,
    RequestCause,
    RequestState,
    RequestType,
)
from governance.models import AssignmentRequest, AuditEvent
from governance.services.errors import InvalidState
from governance.services.request_lifecycle import (
    request_create,
    request_move,
    requests_move,
    transition_causes,
)
from tests.factories import PolicyFactory, UserFactory, snapshot

STATES = RequestState.values
CAUSES = RequestCause.values
PAIRS = list(itertools.product(STATES, STATES))
PAIR_IDS = [f"{from_state}->{to}" for from_state, to in PAIRS]


@pytest.fixture
def policy(db):
    return PolicyFactory()


def _unsaved(policy, state: str) -> AssignmentRequest:
    person = UserFactory()
    return AssignmentRequest(request_type=RequestType.USER_ADD, state=state, status="As it was",
                             access_package=policy.access_package, policy=policy,
                             requestor=person, target=person, created_at=clock.now())


def _request(policy, state: str) -> AssignmentRequest:
    """A request already in `state`: the row the move starts from (one person each, so that
    the one-open-request-per-person rule never stands in the way)."""
    request = _unsaved(policy, state)
    request.save()
    return request


def _events(request) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="assignmentrequest",
                                          object_id=str(request.pk)))


def _assert_moved(request, from_state: str, to: str, cause: str, status: str) -> None:
    stored = AssignmentRequest.objects.get(pk=request.pk)
    assert (stored.state, stored.status) == (to, status)
    assert (stored.completed_at is not None) == (to in REQUEST_FINAL)
    [event] = _events(request)
    assert event.action == f"request.{to}"
    assert event.before == {"state": from_state}
    assert event.after == {"state": to, "status": status}
    assert event.details["cause"] == cause


def _assert_refused(move, code: str = "transitionNotAllowed") -> None:
    before = snapshot()
    with pytest.raises(InvalidState) as refused:
        move()
    assert refused.value.code == code
    assert str(refused.value).endswith(".")
    assert snapshot() == before


def test_the_table_holds_request_states_and_causes_and_final_states_stay_final():
    for (from_state, to), causes in REQUEST_TRANSITIONS.items():
        assert from_state in [None, *STATES] and to in STATES
        assert causes and causes <= set(CAUSES), (from_state, to)
        assert from_state != to
    # Only creation makes a request submitted; denied, canceled and delivered never change,
    # and the other final states only go back to delivering, on an administrator's word.
    assert {pair for pair in REQUEST_TRANSITIONS if pair[1] == RequestState.SUBMITTED} == {
        (None, RequestState.SUBMITTED)}
    leaving_final = {pair: causes for pair, causes in REQUEST_TRANSITIONS.items()
                     if pair[0] in REQUEST_FINAL}
    assert leaving_final == {
        (RequestState.PARTIALLY_DELIVERED, RequestState.DELIVERING): {"administrator"},
        (RequestState.DELIVERY_FAILED, RequestState.DELIVERING): {"administrator"},
    }
    assert {to for (_from, to) in REQUEST_TRANSITIONS if _from is None} == {
        RequestState.SUBMITTED, RequestState.DELIVERED}


@pytest.mark.parametrize(("from_state", "to"), PAIRS, ids=PAIR_IDS)
def test_one_request_moves_only_as_the_table_says(policy, from_state, to):
    for cause in CAUSES:
        request = _request(policy, from_state)
        if cause in transition_causes(from_state, to):
            request_move(request, to=to, cause=cause, status="Moved on")
            assert request.state == to
            _assert_moved(request, from_state, to, cause, "Moved on")
        else:
            _assert_refused(lambda r=request, c=cause: request_move(
                r, to=to, cause=c, status="Moved on"))
            assert request.state == from_state


@pytest.mark.parametrize(("from_state", "to"), PAIRS, ids=PAIR_IDS)
def test_a_set_of_requests_moves_only_as_the_table_says(policy, from_state, to):
    for cause in CAUSES:
        request = _request(policy, from_state)
        chosen = AssignmentRequest.objects.filter(pk=request.pk)
        if cause in transition_causes(from_state, to):
            moved = requests_move(chosen, from_states=[from_state], to=to, cause=cause,
                                  status="Swept on")
            assert moved == [request.pk]
            _assert_moved(request, from_state, to, cause, "Swept on")
        else:
            _assert_refused(lambda c=cause, q=chosen: requests_move(
                q, from_states=[from_state], to=to, cause=c, status="Swept on"))


@pytest.mark.parametrize("cause", CAUSES)
@pytest.mark.parametrize("to", STATES)
def test_a_sweep_moves_exactly_the_requests_in_states_the_table_lets_it_move(policy, to, cause):
    requests = {state: _request(policy, state) for state in STATES}
    allowed = sorted(request.pk for state, request in requests.items()
                     if cause in transition_causes(state, to))
    everyone = [request.pk for request in requests.values()]
    if not allowed:
        _assert_refused(lambda: requests_move(everyone, to=to, cause=cause, status="Swept"))
        return
    assert requests_move(everyone, to=to, cause=cause, status="Swept") == allowed
    for state, request in requests.items():
        stored = AssignmentRequest.objects.get(pk=request.pk)
        if request.pk in allowed:
            _assert_moved(request, state, to, cause, "Swept")
        else:
            assert (stored.state, stored.status) == (state, "As it was")
            assert not _events(request)


@pytest.mark.parametrize("state", STATES)
def test_a_request_is_created_only_in_the_states_the_table_starts_with(policy, state):
    for cause in CAUSES:
        request = _unsaved(policy, state)
        if cause in transition_causes(None, state):
            request_create(request, cause=cause, actor=request.requestor,
                           after={"requestType": request.request_type})
            stored = AssignmentRequest.objects.get(pk=request.pk)
            assert stored.state == state
            assert (stored.completed_at == stored.created_at) == (state in REQUEST_FINAL)
            [event] = _events(request)
            assert (event.action, event.actor, event.details) == (
                "request.submitted", request.requestor, {"cause": cause})
        else:
            _assert_refused(lambda r=request, c=cause: request_create(
                r, cause=c, actor=r.requestor, after={}))
            assert request.pk is None


def test_a_stale_copy_of_a_request_moves_nothing(policy):
    request = _request(policy, RequestState.PENDING_APPROVAL)
    stale = AssignmentRequest.objects.get(pk=request.pk)
    request_move(request, to=RequestState.CANCELED, cause=RequestCause.REQUESTOR,
                 status="Canceled")
    _assert_refused(lambda: request_move(stale, to=RequestState.DENIED,
                                         cause=RequestCause.APPROVER, status="Denied"),
                    code="requestChanged")
    assert AssignmentRequest.objects.get(pk=request.pk).state == RequestState.CANCELED


def test_every_open_state_can_be_left_and_every_state_reached():
    assert {from_state for from_state, _to in REQUEST_TRANSITIONS} >= set(REQUEST_OPEN)
    assert {to for _from, to in REQUEST_TRANSITIONS} == set(STATES)
