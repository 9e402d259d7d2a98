"""Custom extensions' calls: signed with the extension's secret and checked by a receiver on
loopback; the body of each stage of a request or an assignment (granted, removed, 14 days
and 1 day before expiry); and a receiver that is down, retried by the outbox until the call
fails, or until the request that waited for it times out."""

from datetime import timedelta

import time_machine

from governance import clock
from governance.choices import (
    AssignmentState,
    CalloutStatus,
    CustomExtensionStage,
    DeliveryState,
    EndReason,
    OutboxState,
    RequestState,
)
from governance.connectors.webhook import (
    CALLOUT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)
from governance.models import ExtensionCallout, OutboxMessage
from governance.services.delivery import assignments_refresh
from governance.services.expiry import assignments_warn_expiring
from governance.services.extensions import extensions_time_out_due
from governance.services.outbox import MAX_ATTEMPTS, outbox_send_due
from governance.services.requests import request_remove
from tests.extension_helpers import CONTINUE, SECRET, call_at, history_of, make_extension
from tests.factories import delivered_assignment, submit_request

Stage = CustomExtensionStage


# The signed call


def test_the_receiver_verifies_the_signature_and_a_tampered_body_fails(world, receiver):
    call_at(world, world.policy,
            (Stage.REQUEST_CREATED, make_extension(world, receiver.url, behavior=CONTINUE)))
    request = submit_request(world)
    outbox_send_due()
    [call] = receiver.calls
    assert call.verified
    assert call.headers["Content-Type"] == "application/json"
    callout = ExtensionCallout.objects.get()
    assert call.headers[CALLOUT_HEADER] == str(callout.pk)
    assert call.headers[SIGNATURE_HEADER].startswith("sha256=")
    timestamp, signature = call.headers[TIMESTAMP_HEADER], call.headers[SIGNATURE_HEADER]
    assert not verify_signature(SECRET, timestamp, call.raw.replace(b"FAL-2026", b"FAL-2027"),
                                signature)
    assert not verify_signature("another secret of the same kind", timestamp, call.raw,
                                signature)
    assert not verify_signature(SECRET, timestamp, call.raw, signature,
                                now=int(timestamp) + 301)
    data = call.data
    assert call.body["type"] == "microsoft.graph.accessPackageCustomExtensionStage." \
                                "assignmentRequestCreated"
    assert data["@odata.type"] == "#microsoft.graph.accessPackageAssignmentRequestCalloutData"
    assert (data["stage"], data["accessPackageAssignmentRequestId"]) == (
        Stage.REQUEST_CREATED, str(request.pk))
    assert data["answers"][0]["value"] == "FAL-2026"
    assert data["target"]["email"] == world.requester.email
    assert "callbackUriPath" not in data


def test_a_receiver_with_another_secret_refuses_and_the_outbox_tries_again(world, receiver):
    receiver.secret = "not the secret the portal has"
    call_at(world, world.policy,
            (Stage.REQUEST_CREATED, make_extension(world, receiver.url, behavior=CONTINUE)))
    submit_request(world)
    outbox_send_due()
    assert [call.verified for call in receiver.calls] == [False]
    message = OutboxMessage.objects.get(channel=OutboxMessage.Channel.WEBHOOK)
    assert message.state == OutboxState.WAITING_RETRY and "401" in message.last_error
    callout = ExtensionCallout.objects.get()
    assert callout.status == CalloutStatus.QUEUED and "401" in callout.detail


# The stages of an assignment


def test_granted_removed_and_expiry_callouts_carry_their_stage(world, receiver):
    notice = make_extension(world, receiver.url, behavior=CONTINUE, name="Notice")
    call_at(world, world.policy, (Stage.REQUEST_GRANTED, notice),
            (Stage.FOURTEEN_DAYS, notice), (Stage.ONE_DAY, notice),
            (Stage.REQUEST_REMOVED, notice))
    assignment = delivered_assignment(world)
    assert assignment.state == AssignmentState.DELIVERED
    added, expires = assignment.requests.get(), assignment.expires_at
    with time_machine.travel(expires - timedelta(days=13), tick=False):
        assignments_warn_expiring()
    with time_machine.travel(expires - timedelta(hours=23), tick=False):
        assignments_warn_expiring()
        request_remove(actor=world.requester, assignment_id=assignment.pk)
        outbox_send_due()
    assert [call.data["stage"] for call in receiver.calls] == [
        Stage.REQUEST_GRANTED, Stage.FOURTEEN_DAYS, Stage.ONE_DAY, Stage.REQUEST_REMOVED]
    assert all(call.verified for call in receiver.calls)
    granted, fourteen, _, removed = (call.data for call in receiver.calls)
    assert granted["@odata.type"] == "#microsoft.graph.accessPackageAssignmentRequestCalloutData"
    assert granted["accessPackageAssignmentRequestId"] == str(added.pk)
    assert granted["assignment"]["state"] == AssignmentState.DELIVERED
    assert fourteen["@odata.type"] == "#microsoft.graph.accessPackageAssignmentCalloutData"
    assert fourteen["assignment"]["schedule"]["endDateTime"] == expires.isoformat()
    assert removed["assignment"]["status"] == EndReason.REMOVED_BY_USER.label
    assert set(ExtensionCallout.objects.values_list("status", flat=True)) == {
        CalloutStatus.CALLOUT_SENT}


def test_an_assignment_is_granted_once_however_often_it_is_redelivered(world, receiver):
    call_at(world, world.policy, (Stage.REQUEST_GRANTED,
                                  make_extension(world, receiver.url, behavior=CONTINUE)))
    assignment = delivered_assignment(world)
    assignment.deliveries.update(state=DeliveryState.PENDING)
    assignments_refresh([assignment.pk])
    assignment.deliveries.update(state=DeliveryState.DONE)
    assignments_refresh([assignment.pk])
    assert ExtensionCallout.objects.filter(stage=Stage.REQUEST_GRANTED).count() == 1


# A receiver that is down


def test_a_receiver_that_is_down_is_retried_then_the_callout_fails_and_the_request_ends(
        world, receiver, client):
    receiver.stop()
    call_at(world, world.policy, (Stage.REQUEST_CREATED,
                                  make_extension(world, receiver.url, timeout=timedelta(days=1))))
    request = submit_request(world)
    message = OutboxMessage.objects.get(channel=OutboxMessage.Channel.WEBHOOK)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        message.refresh_from_db()
        with time_machine.travel(message.next_attempt_at, tick=False):
            # The last attempt ends the request, whose denial email goes out at once too.
            assert outbox_send_due() == (1 if attempt < MAX_ATTEMPTS else 2)
        message.refresh_from_db()
        callout = ExtensionCallout.objects.get()
        if attempt < MAX_ATTEMPTS:
            assert message.state == OutboxState.WAITING_RETRY
            assert callout.status == CalloutStatus.QUEUED
            assert callout.detail.startswith("Not sent yet: Could not reach")
    assert (message.state, message.attempts) == (OutboxState.FAILED, MAX_ATTEMPTS)
    assert callout.status == CalloutStatus.CALLOUT_FAILED
    request.refresh_from_db()
    assert (request.state, request.status) == (RequestState.DENIED,
                                               "Ended: Compliance check could not be reached")
    assert "Compliance check: could not be reached" in history_of(client, world.requester)


def test_a_receiver_that_refuses_the_call_fails_it_at_once(world, receiver):
    """A 4xx will not change on a retry: the callout fails on the first attempt."""
    receiver.status = 404
    call_at(world, world.policy, (Stage.REQUEST_CREATED,
                                  make_extension(world, receiver.url, timeout=timedelta(days=1))))
    request = submit_request(world)
    outbox_send_due()
    message = OutboxMessage.objects.get(channel=OutboxMessage.Channel.WEBHOOK)
    assert (message.state, message.attempts) == (OutboxState.FAILED, 1)
    assert message.last_error.startswith("404 from POST")
    assert ExtensionCallout.objects.get().status == CalloutStatus.CALLOUT_FAILED
    request.refresh_from_db()
    assert request.state == RequestState.DENIED


def test_a_waiting_request_times_out_while_the_receiver_is_down(world, receiver):
    receiver.stop()
    call_at(world, world.policy, (Stage.REQUEST_CREATED, make_extension(world, receiver.url)))
    request = submit_request(world)
    outbox_send_due()
    with time_machine.travel(clock.now() + timedelta(hours=1, minutes=1), tick=False):
        assert extensions_time_out_due() == 1
    request.refresh_from_db()
    assert request.status == "Ended: Compliance check did not answer within 1 hour"
    message = OutboxMessage.objects.get(channel=OutboxMessage.Channel.WEBHOOK)
    assert message.state == OutboxState.FAILED
    assert message.last_error == "Not sent: the callout timed out before it could be sent."
    assert ExtensionCallout.objects.get().status == CalloutStatus.TIMED_OUT
