"""Custom extensions at the stages of a request or an assignment: Graph's
customCalloutExtension and its customExtensionCalloutInstance (ExtensionCallout).

A launch stores a callout, its body fixed at that moment, and an outbox row (channel webhook)
that sends the body signed with the extension's secret (governance.connectors.webhook) and
retries with backoff. Launch and continue: nothing waits for the receiver. Launch and wait
(only when a request is created or approved, as in Entra): the request stays where it is, its
status "Waiting for <extension>", until the receiver POSTs to the callback address in the
body (`extension_resume`), or the timeout passes (`extensions_time_out_due`), or the call
cannot be sent (`extension_callout_failed`). A callback at the created stage may deny or
cancel the request (Graph's accessPackageAssignmentRequestCallbackData.state); otherwise the
request goes on as it would have: to approval or delivery after created, to delivery after
approved. A timeout, a failed call or a denial ends the request with the reason shown to the
requestor. Where the request goes is the lifecycle's to decide: this module reports the
callback, or its absence, to governance.services.request_lifecycle.

What a call carries and what a callback may say: governance.connectors.extension_calls.
Configuration (extension_save, policy_extension_stages_set):
governance.services.extension_config. Lock
order: request, then callout.
"""

from datetime import timedelta

from django.db import transaction
from django.utils.formats import date_format

from governance import clock
from governance.choices import (
    EXTENSION_WAIT_STAGES,
    CalloutStatus,
    CustomExtensionBehavior,
    CustomExtensionStage,
    OutboxState,
    RequestState,
)
from governance.connectors import webhook
from governance.connectors.extension_calls import callback_outcome, callout_body, duration_text
from governance.models import (
    Assignment,
    AssignmentRequest,
    CustomExtension,
    ExtensionCallout,
    OutboxMessage,
    PolicyExtensionStage,
)
from governance.services.audit import audit_record, audit_record_many
from governance.services.errors import InvalidState, NotFound
from governance.services.internal.bulk import ids_in
from governance.services.outbox import notify_messages, outbox_channel_connect
from governance.services.request_lifecycle import (
    CalloutAnswered,
    CalloutUnanswered,
    Step,
    performs,
    request_advance,
)

Stage = CustomExtensionStage
# Only used when a waiting extension has no timeout (extension_save requires one).
DEFAULT_TIMEOUT = timedelta(days=1)
OPEN = [CalloutStatus.QUEUED, CalloutStatus.WAITING]
# The state a request is in while a callout of this stage holds it.
HELD_IN = {Stage.REQUEST_CREATED: RequestState.SUBMITTED,
           Stage.REQUEST_APPROVED: RequestState.PENDING_APPROVAL}
STATUS_MAX = AssignmentRequest._meta.get_field("status").max_length


# Launching


def _launch(stage: str, items: list[tuple[CustomExtension, AssignmentRequest | None,
                                          Assignment | None]]) -> list[ExtensionCallout]:
    now = clock.now()
    callouts = []
    for extension, request, assignment in items:
        waits = (extension.behavior == CustomExtensionBehavior.LAUNCH_AND_WAIT
                 and stage in EXTENSION_WAIT_STAGES)
        callouts.append(ExtensionCallout(
            extension=extension, stage=stage, request=request, assignment=assignment,
            waits=waits, created_at=now,
            callback_due_at=now + (extension.callback_timeout or DEFAULT_TIMEOUT)
            if waits else None))
    ExtensionCallout.objects.bulk_create(callouts)
    for callout in callouts:
        callout.body = callout_body(callout)
    ExtensionCallout.objects.bulk_update(callouts, ["body"])
    audit_record_many(actor=None, action="extension.launched",
                      object_type="extensioncallout", entries=[
                          (c.pk, None, {"status": c.status}, {
                              "extension": c.extension_id, "stage": stage, "waits": c.waits,
                              "request": c.request_id, "assignment": c.assignment_id})
                          for c in callouts])
    notify_messages([OutboxMessage(
        channel=OutboxMessage.Channel.WEBHOOK, topic=f"extension:{stage}",
        to_address=c.extension.endpoint_url, payload={"callout_id": c.pk},
        dedupe_key=f"callout:{c.pk}", created_at=now, next_attempt_at=now) for c in callouts])
    return callouts


@performs(Step.CALLOUT)
def extension_launch(*, stage: str, request: AssignmentRequest) -> ExtensionCallout | None:
    """Launch the extension the request's policy sets for `stage` (created or approved), if
    any. In the caller's transaction, with the request locked or just created.

    When the callout waits, the request's status says so and the caller stops there:
    extension_resume (or a timeout, or a call that cannot be sent) carries the request on.
    """
    if request.policy_id is None:
        return None
    setting = PolicyExtensionStage.objects.filter(policy_id=request.policy_id, stage=stage) \
        .select_related("extension").first()
    if setting is None:
        return None
    [callout] = _launch(stage, [(setting.extension, request, request.assignment)])
    if callout.waits:
        request.status = f"Waiting for {setting.extension}"[:STATUS_MAX]
        request.save(update_fields=["status"])
    return callout


@performs(Step.ASSIGNMENT_CALLOUTS)
def extensions_launch_for_assignments(*, stage: str,
                                      assignment_ids: list[int]) -> list[ExtensionCallout]:
    """Launch, without waiting, the extension each assignment's policy sets for `stage`
    (granted, removed, 14 days or 1 day before expiry). In the caller's transaction; one query
    when no policy sets one. An assignment is granted once, however often it is redelivered."""
    if not assignment_ids:
        return []
    extensions = {row.policy_id: row.extension for row in PolicyExtensionStage.objects.filter(
        stage=stage, policy_id__in=Assignment.objects.filter(
            pk__in=ids_in(assignment_ids)).values("policy_id")).select_related("extension")}
    if not extensions:
        return []
    assignments = Assignment.objects.filter(pk__in=ids_in(assignment_ids),
                                            policy_id__in=list(extensions))
    if stage == Stage.REQUEST_GRANTED:
        assignments = assignments.exclude(callouts__stage=Stage.REQUEST_GRANTED)
    assignments = list(assignments.select_related("access_package__catalog", "target")
                       .order_by("id"))
    delivering_request = {}
    if stage == Stage.REQUEST_GRANTED:
        # The request that delivered it: the latest one naming the assignment.
        for request in AssignmentRequest.objects.filter(
                assignment_id__in=[a.pk for a in assignments]).select_related(
                "requestor", "target").order_by("created_at", "id"):
            delivering_request[request.assignment_id] = request
    return _launch(stage, [(extensions[a.policy_id], delivering_request.get(a.pk), a)
                           for a in assignments])


# The receiver's answer, a timeout, or a call that could not be sent


def _holds(callout: ExtensionCallout, request: AssignmentRequest | None) -> bool:
    """Whether the request is still held by this waiting callout."""
    return (request is not None and callout.waits and callout.status in OPEN
            and request.state == HELD_IN.get(callout.stage))


def _locked(callout_id: int) -> tuple[ExtensionCallout, AssignmentRequest | None]:
    """The callout and its request, locked in that order (request first)."""
    row = ExtensionCallout.objects.filter(pk=callout_id).values("request_id").first()
    if row is None:
        raise NotFound("This callout does not exist.", code="calloutNotFound")
    request = None
    if row["request_id"] is not None:
        request = AssignmentRequest.objects.select_for_update(of=("self",)).select_related(
            "policy", "access_package", "requestor").get(pk=row["request_id"])
    callout = ExtensionCallout.objects.select_for_update(of=("self",)).select_related(
        "extension").get(pk=callout_id)
    return callout, request


def _set_status(callout: ExtensionCallout, status: str, detail: str) -> None:
    before = callout.status
    callout.status, callout.detail = status, detail
    if status == CalloutStatus.CALLBACK_RECEIVED:
        callout.answered_at = clock.now()
    callout.save(update_fields=["status", "detail", "answered_at"])
    if before == CalloutStatus.QUEUED and status == CalloutStatus.TIMED_OUT:
        # Still being retried: nothing waits for the call any more, and the outbox says so.
        OutboxMessage.objects.filter(
            dedupe_key=f"callout:{callout.pk}",
            state__in=[OutboxState.QUEUED, OutboxState.WAITING_RETRY],
        ).update(state=OutboxState.FAILED,
                 last_error="Not sent: the callout timed out before it could be sent.")
    audit_record(actor=None, action=f"extension.{status}", obj=callout,
                 before={"status": before}, after={"status": status, "detail": detail},
                 details={"request": callout.request_id, "extension": callout.extension_id})


def _refuse_unanswerable(callout: ExtensionCallout, request: AssignmentRequest | None) -> None:
    if not callout.waits:
        raise InvalidState("This callout does not wait for a callback.", code="notWaiting")
    if callout.status == CalloutStatus.CALLBACK_RECEIVED:
        raise InvalidState(
            "This callout was already answered on "
            f"{date_format(callout.answered_at, 'DATETIME_FORMAT')}.", code="alreadyAnswered")
    if callout.status == CalloutStatus.TIMED_OUT or clock.now() >= callout.callback_due_at:
        raise InvalidState("The callback came after its timeout; the request no longer waits "
                           "for it.", code="callbackTimedOut")
    if not _holds(callout, request):
        raise InvalidState("The request no longer waits for this callback (it is "
                           f"{request.get_state_display().lower() if request else 'gone'}).",
                           code="requestNotWaiting")


def extension_resume(*, callout_id: int, body) -> ExtensionCallout:
    """The receiver answers a waiting callout: carry the request on, or end it as asked.

    :raises InvalidInput: the body is not Graph's callback data for this callout.
    :raises InvalidState: the callout was answered, timed out, or its request moved on.
    """
    with transaction.atomic():
        callout, request = _locked(callout_id)
        _refuse_unanswerable(callout, request)
        state, detail = callback_outcome(callout, body)
        _set_status(callout, CalloutStatus.CALLBACK_RECEIVED, detail)
        request_advance(CalloutAnswered(request, callout, state=state, detail=detail))
    return callout


def extension_callout_send(*, callout_id: int) -> None:
    """Send one callout; the outbox calls this and retries when it raises."""
    callout = ExtensionCallout.objects.select_related("extension").filter(pk=callout_id).first()
    if callout is None or callout.status != CalloutStatus.QUEUED:
        return  # answered, timed out or failed meanwhile: nothing waits for this call
    extension = callout.extension
    try:
        webhook.post(url=extension.endpoint_url, secret=extension.secret(), body=callout.body,
                     callout_id=callout.pk)
    except Exception as exc:
        ExtensionCallout.objects.filter(pk=callout.pk, status=CalloutStatus.QUEUED).update(
            detail=f"Not sent yet: {exc}"[:2000])
        raise
    sent = CalloutStatus.WAITING if callout.waits else CalloutStatus.CALLOUT_SENT
    with transaction.atomic():
        # Compare-and-set: the receiver may have answered while we waited for its response.
        if ExtensionCallout.objects.filter(pk=callout.pk, status=CalloutStatus.QUEUED).update(
                status=sent, detail=""):
            audit_record(actor=None, action=f"extension.{sent}", obj=callout,
                         before={"status": CalloutStatus.QUEUED}, after={"status": sent},
                         details={"request": callout.request_id,
                                  "extension": callout.extension_id})


def extension_callout_failed(*, callout_id: int, error: str) -> None:
    """The outbox gave up sending: the callout failed, and a request it held ends."""
    with transaction.atomic():
        callout, request = _locked(callout_id)
        if callout.status != CalloutStatus.QUEUED:
            return
        held = _holds(callout, request)
        _set_status(callout, CalloutStatus.CALLOUT_FAILED, error[:2000])
        if held:
            request_advance(CalloutUnanswered(
                request, callout, status=f"Ended: {callout.extension} could not be reached",
                reason=f"{callout.extension} could not be reached."))


def _time_out(request: AssignmentRequest, callout: ExtensionCallout) -> None:
    within = duration_text(callout.callback_due_at - callout.created_at)
    _set_status(callout, CalloutStatus.TIMED_OUT, f"No callback within {within}.")
    request_advance(CalloutUnanswered(
        request, callout, status=f"Ended: {callout.extension} did not answer within {within}",
        reason=f"{callout.extension} did not answer within {within}."))


def extensions_time_out_due(*, batch_size: int = 200) -> int:
    """End the requests whose waiting callout passed its timeout; close callouts whose request
    no longer waits (canceled meanwhile). Returns how many requests ended."""
    now = clock.now()
    due = ExtensionCallout.objects.filter(waits=True, status__in=OPEN, callback_due_at__lte=now)
    ended = 0
    while True:
        with transaction.atomic():
            claimed = list(AssignmentRequest.objects.filter(
                state__in=list(HELD_IN.values()), pk__in=due.values("request_id"))
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("policy", "access_package", "requestor")
                .order_by("id")[:batch_size])
            for request in claimed:
                # Read again under the request's lock: a callback may have just answered.
                for callout in due.filter(request=request).select_for_update(of=("self",)) \
                        .select_related("extension"):
                    if _holds(callout, request):
                        _time_out(request, callout)
                        ended += 1
                    else:
                        _close_orphan(callout)
        if len(claimed) < batch_size:
            break
    while True:
        with transaction.atomic():
            orphans = list(due.exclude(request__state__in=list(HELD_IN.values()))
                           .select_for_update(skip_locked=True, of=("self",))
                           .select_related("extension").order_by("id")[:batch_size])
            for callout in orphans:
                _close_orphan(callout)
        if len(orphans) < batch_size:
            return ended


def _close_orphan(callout: ExtensionCallout) -> None:
    _set_status(callout, CalloutStatus.TIMED_OUT,
                "No callback in time; the request no longer waited for it.")


# The outbox sends the callouts' webhooks through these, and gives up through them.


def _send_webhook(message: OutboxMessage) -> None:
    extension_callout_send(callout_id=message.payload["callout_id"])


def _webhook_given_up(message: OutboxMessage, error: str) -> None:
    extension_callout_failed(callout_id=message.payload["callout_id"], error=error)


outbox_channel_connect(OutboxMessage.Channel.WEBHOOK, send=_send_webhook,
                       gave_up=_webhook_given_up)
