"""The request's lifecycle: every change of a request's state, and what follows an event.

Every write of `AssignmentRequest.state` is made here and audited here: `request_create`,
`request_move`, and `requests_move` for the sweeps, set-based. Each is checked against
REQUEST_TRANSITIONS (governance.choices, beside the states); a move the table does not have
is refused with InvalidState and changes nothing.

`request_advance` decides what follows an event: a submission, a stage's decision or
deadline, a custom extension's callback or its silence, a start date, a delivery's result.
Next comes the extension's callout, the next stage, delivery, or the end. The services that
carry out those steps (approvals, extensions, delivery) report their events here, and none
of them imports another. Nor does this module import them, as they import it: each connects
the steps it carries out with `@performs`, and governance.apps imports them when Django
starts, before any request can move.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import QuerySet
from django.utils.formats import date_format

from governance import clock
from governance.choices import (
    REQUEST_FINAL,
    REQUEST_TRANSITIONS,
    UPDATE_TYPES,
    AssignmentState,
    CustomExtensionStage,
    RequestCause,
    RequestState,
)
from governance.models import ApprovalStage, AssignmentRequest, ExtensionCallout, User
from governance.services.audit import audit_record, audit_record_many
from governance.services.errors import InvalidState
from governance.services.internal.bulk import ids_in
from governance.services.outbox import notify

STATUS_MAX = AssignmentRequest._meta.get_field("status").max_length


# The table


def transition_causes(from_state: str | None, to: str) -> frozenset[str]:
    """Who may move a request from `from_state` (None: not created yet) to `to`."""
    return REQUEST_TRANSITIONS.get((from_state, to), frozenset())


def _label(choices, value) -> str:
    return str(choices(value).label).lower() if value in choices.values else repr(value)


def _refuse_unless_allowed(from_state: str | None, to: str, cause: str) -> None:
    if cause in transition_causes(from_state, to):
        return
    who, becomes = _label(RequestCause, cause), _label(RequestState, to)
    if from_state is None:
        message = f"A request cannot be created {becomes} by {who}."
    else:
        message = (f"This request is {_label(RequestState, from_state)}; {who} cannot make it "
                   f"{becomes}.")
    raise InvalidState(message, code="transitionNotAllowed")


def _completed_at(to: str):
    return clock.now() if to in REQUEST_FINAL else None


# Writing the state


def request_create(request: AssignmentRequest, *, cause: str, actor: User | None,
                   after: dict) -> AssignmentRequest:
    """Save the new `request` in the state it was built with; `after` is what the audit
    records of it. In the caller's transaction."""
    _refuse_unless_allowed(None, request.state, cause)
    if request.state in REQUEST_FINAL:
        request.completed_at = request.created_at
    request.save()
    audit_record(actor=actor, action="request.submitted", obj=request, after=after,
                 details={"cause": cause})
    return request


def request_move(request: AssignmentRequest, *, to: str, cause: str,
                 actor: User | None = None, status: str | None = None, assignment=None,
                 action: str | None = None, details: dict | None = None) -> None:
    """Move one request, locked by the caller (or just created), to `to`; `status` (kept when
    None) says why, `assignment` is the one it created or extended. Audited as `action`
    (request.<to> unless named).

    :raises InvalidState: the table has no such move for `cause`, or another transaction
        moved the request since the caller read it.
    """
    before = request.state
    _refuse_unless_allowed(before, to, cause)
    fields = {"state": to, "completed_at": _completed_at(to)}
    if status is not None:
        fields["status"] = status[:STATUS_MAX]
    if assignment is not None:
        fields["assignment"] = assignment
    # Compare-and-set, so that a caller holding a stale copy moves nothing.
    if not AssignmentRequest.objects.filter(pk=request.pk, state=before).update(**fields):
        raise InvalidState("This request changed meanwhile; reload it to see where it is now.",
                           code="requestChanged")
    for name, value in fields.items():
        setattr(request, name, value)
    audit_record(actor=actor, action=action or f"request.{to}", obj=request,
                 before={"state": before}, after={"state": to, "status": request.status},
                 details={"cause": cause, **(details or {})})


def requests_move(requests: QuerySet | Iterable[int], *, to: str, cause: str, status: str,
                  from_states: Iterable[str] | None = None, actor: User | None = None,
                  action: str | None = None, details: dict | None = None,
                  skip_locked: bool = False) -> list[int]:
    """Move those of `requests` (a queryset or ids) that are in one of `from_states` (by
    default, every state the table lets `cause` move to `to`), set-based, locking them first
    (`skip_locked`: passing over those another transaction holds). In the caller's
    transaction; returns the ids moved.

    :raises InvalidState: one of `from_states` cannot move to `to` for `cause`.
    """
    if from_states is None:
        from_states = [state for state in RequestState.values
                       if cause in transition_causes(state, to)]
        if not from_states:
            raise InvalidState(f"No request can be made {_label(RequestState, to)} by "
                               f"{_label(RequestCause, cause)}.", code="transitionNotAllowed")
    from_states = list(from_states)
    for state in from_states:
        _refuse_unless_allowed(state, to, cause)
    if not isinstance(requests, QuerySet):
        requests = AssignmentRequest.objects.filter(pk__in=ids_in(requests))
    rows = list(requests.filter(state__in=from_states)
                .select_for_update(skip_locked=skip_locked, of=("self",)).order_by("pk")
                .values_list("pk", "state"))
    if not rows:
        return []
    moved = [pk for pk, _state in rows]
    status = status[:STATUS_MAX]
    AssignmentRequest.objects.filter(pk__in=ids_in(moved)).update(
        state=to, status=status, completed_at=_completed_at(to))
    audit_record_many(actor=actor, action=action or f"request.{to}",
                      object_type=AssignmentRequest._meta.model_name, entries=[
                          (pk, {"state": state}, {"state": to, "status": status},
                           {"cause": cause, **(details or {})})
                          for pk, state in rows])
    return moved


# The steps other services carry out


class Step(StrEnum):
    APPROVAL = "approval"              # (request): create the stages, start the first
    STAGE = "stage"                    # (stage, request): start this stage
    CALLOUT = "callout"                # (stage=, request=): the request's extension, if any
    ASSIGNMENT_CALLOUTS = "assignmentCallouts"  # (stage=, assignment_ids=): launch, no wait
    DELIVERY = "delivery"              # (request, actor=, cause=): create or extend access


_performers: dict[Step, Callable] = {}


def performs(step: Step) -> Callable[[Callable], Callable]:
    """Connect the function it decorates as the one that carries out `step`."""

    def connect(function: Callable) -> Callable:
        known = _performers.get(step)
        if known is not None and _name(known) != _name(function):
            raise RuntimeError(f"{_name(known)} already carries out the request step {step!r},"
                               f" not {_name(function)}.")
        _performers[step] = function
        return function

    return connect


def _name(function: Callable) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def step_performer(step: Step) -> Callable:
    try:
        return _performers[step]
    except KeyError:
        raise RuntimeError(f"No service carries out the request step {step!r}: governance.apps"
                           " imports them when Django starts.") from None


# The events


@dataclass(frozen=True)
class Submitted:
    """A person asked: for themselves, for a direct report, or to extend their access."""

    request: AssignmentRequest
    actor: User


@dataclass(frozen=True)
class Assigned:
    """An administrator assigned the package directly: no extension, no approval."""

    request: AssignmentRequest
    actor: User


@dataclass(frozen=True)
class StageDecided:
    request: AssignmentRequest
    stage: ApprovalStage
    approver: User
    approved: bool
    justification: str = ""


@dataclass(frozen=True)
class StageTimedOut:
    request: AssignmentRequest
    stage: ApprovalStage


@dataclass(frozen=True)
class CalloutAnswered:
    """The receiver of a waiting callout called back: the request goes on, or ends in the
    `state` the callback asks for (denied or canceled), `detail` saying why."""

    request: AssignmentRequest
    callout: ExtensionCallout
    state: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class CalloutUnanswered:
    """No callback will come: the call could not be sent, or the timeout passed."""

    request: AssignmentRequest
    callout: ExtensionCallout
    status: str
    reason: str


@dataclass(frozen=True)
class StartDue:
    """A scheduled request's start date has come."""

    request: AssignmentRequest


@dataclass(frozen=True)
class Delivered:
    """The deliveries of these assignments settled: assignment id → its state now."""

    assignment_states: dict[int, str]


Event = (Submitted | Assigned | StageDecided | StageTimedOut | CalloutAnswered
         | CalloutUnanswered | StartDue | Delivered)


# What follows


def request_advance(event: Event) -> None:
    """Carry the request on after `event`, in the caller's transaction (with the request
    locked or just created)."""
    match event:
        case Submitted(request=request, actor=actor):
            if not _held(request, CustomExtensionStage.REQUEST_CREATED):
                _route(request, actor=actor, cause=RequestCause.REQUESTOR)
        case Assigned(request=request, actor=actor):
            _deliver(request, actor=actor, cause=RequestCause.ADMINISTRATOR)
        case StageDecided(request=request, stage=stage, approver=approver, approved=True):
            _after_approval(request, stage, approver)
        case StageDecided(request=request, approver=approver, justification=justification):
            _end(request, to=RequestState.DENIED, status="Denied", cause=RequestCause.APPROVER,
                 actor=approver, denial=justification)
        case StageTimedOut(request=request, stage=stage):
            _end(request, to=RequestState.DENIED, status="Expired", cause=RequestCause.SYSTEM,
                 action="request.timedOut",
                 details={"stage": stage.order, "dueAt": stage.due_at.isoformat()})
            if _emails_on(request):
                notify(topic="request_expired", recipients=[request.requestor],
                       payload={"request_id": request.pk})
        case CalloutAnswered(request=request, callout=callout, state=None):
            if callout.stage == CustomExtensionStage.REQUEST_CREATED:
                _route(request, actor=None, cause=RequestCause.EXTENSION)
            else:
                _deliver(request, actor=None, cause=RequestCause.EXTENSION)
        case CalloutAnswered(request=request, callout=callout, state=state, detail=detail):
            _callout_refused(request, callout, state, detail)
        case CalloutUnanswered(request=request, callout=callout, status=status, reason=reason):
            _end(request, to=RequestState.DENIED, status=status, cause=RequestCause.SYSTEM,
                 details=_callout_details(callout), denial=reason)
        case StartDue(request=request):
            _deliver(request, actor=None, cause=RequestCause.SYSTEM)
        case Delivered(assignment_states=states):
            _after_delivery(states)
        case _:
            raise TypeError(f"Not a request event: {event!r}")


def _emails_on(request: AssignmentRequest) -> bool:
    return request.policy is None or request.policy.send_assignment_emails


def _held(request: AssignmentRequest, stage: str) -> bool:
    """Launch the request's extension for `stage`: whether it holds the request until it
    answers (a CalloutAnswered or CalloutUnanswered carries the request on then)."""
    callout = step_performer(Step.CALLOUT)(stage=stage, request=request)
    return callout is not None and callout.waits


def _route(request: AssignmentRequest, *, actor: User | None, cause: str) -> None:
    """To approval when the policy asks for it (for adding or for extending), else deliver."""
    policy = request.policy
    required = policy is not None and (policy.is_approval_required_for_update
                                       if request.request_type in UPDATE_TYPES
                                       else policy.is_approval_required_for_add)
    if required and policy.stages.exists():
        request_move(request, to=RequestState.PENDING_APPROVAL, cause=cause, actor=actor)
        step_performer(Step.APPROVAL)(request)
    else:
        _deliver(request, actor=actor, cause=cause)


def _after_approval(request: AssignmentRequest, stage: ApprovalStage, approver: User) -> None:
    following = request.stages.filter(order__gt=stage.order).order_by("order").first()
    if following:
        step_performer(Step.STAGE)(following, request)
        return
    audit_record(actor=approver, action="request.approved", obj=request,
                 before={"state": RequestState.PENDING_APPROVAL})
    if _emails_on(request):
        notify(topic="request_approved", recipients=[request.requestor],
               payload={"request_id": request.pk})
    if not _held(request, CustomExtensionStage.REQUEST_APPROVED):
        _deliver(request, actor=approver, cause=RequestCause.APPROVER)


def _deliver(request: AssignmentRequest, *, actor: User | None, cause: str) -> None:
    """Now, or on the start date the requestor chose."""
    start = request.schedule_start_at
    if start and start > clock.now():
        request_move(request, to=RequestState.SCHEDULED, cause=cause, actor=actor,
                     status=f"Starts {date_format(start, 'DATETIME_FORMAT')}",
                     details={"startAt": start.isoformat()})
        return
    step_performer(Step.DELIVERY)(request, actor=actor, cause=cause)


def _callout_details(callout: ExtensionCallout) -> dict:
    return {"extension": callout.extension_id, "callout": callout.pk, "stage": callout.stage}


def _callout_refused(request: AssignmentRequest, callout: ExtensionCallout, state: str,
                     detail: str) -> None:
    extension = callout.extension
    said = f": {detail}" if detail else ""
    if state == RequestState.DENIED:
        _end(request, to=state, status=f"Denied by {extension}{said}",
             cause=RequestCause.EXTENSION, details=_callout_details(callout),
             denial=detail or f"{extension} denied it.")
    else:
        _end(request, to=state, status=f"Canceled by {extension}{said}",
             cause=RequestCause.EXTENSION, details=_callout_details(callout))


def _end(request: AssignmentRequest, *, to: str, status: str, cause: str,
         actor: User | None = None, action: str | None = None, details: dict | None = None,
         denial: str | None = None) -> None:
    """End the request; a `denial` (its reason, perhaps empty) is emailed to the requestor."""
    request_move(request, to=to, cause=cause, actor=actor, status=status, action=action,
                 details=details)
    if denial is not None and _emails_on(request):
        notify(topic="request_denied", recipients=[request.requestor],
               payload={"request_id": request.pk, "justification": denial})


def _after_delivery(assignment_states: dict[int, str]) -> None:
    """The requests still delivering these assignments end as their assignment did; the
    delivered ones launch their "granted" extensions."""
    by_state: dict[str, list[int]] = {}
    for assignment_id, state in assignment_states.items():
        by_state.setdefault(state, []).append(assignment_id)
    for state, assignment_ids in by_state.items():
        requests_move(AssignmentRequest.objects.filter(assignment_id__in=ids_in(assignment_ids)),
                      from_states=[RequestState.DELIVERING], to=state,
                      cause=RequestCause.SYSTEM, status=AssignmentState(state).label)
    step_performer(Step.ASSIGNMENT_CALLOUTS)(
        stage=CustomExtensionStage.REQUEST_GRANTED,
        assignment_ids=by_state.get(RequestState.DELIVERED, []))
