"""Custom extensions that hold a request: launch and wait when a request is created or
approved, sent by the real outbox to a receiver on loopback; the request goes on when the
receiver calls back, and ends with the reason shown to the requestor when the callback denies
or cancels it, or when nothing answers in time. Forged, reused and late callbacks change
nothing."""

from datetime import timedelta

import time_machine
from django.urls import reverse

from governance import clock
from governance.choices import (
    AssignmentState,
    CalloutStatus,
    CustomExtensionStage,
    RequestState,
    StageState,
)
from governance.models import AuditEvent, ExtensionCallout, OutboxMessage
from governance.services.delivery import deliveries_process
from governance.services.extensions import extensions_time_out_due
from governance.services.outbox import outbox_send_due
from governance.services.requests import request_cancel, request_submit
from tests.extension_helpers import (
    CONTINUE,
    call_at,
    history_of,
    make_extension,
    post_callback,
)
from tests.factories import approve_all, open_package, snapshot, submit_request
from tests.webhook_receiver import resume_body

Stage = CustomExtensionStage


# Launch and continue


def test_launch_and_continue_at_created_does_not_hold_the_request(world, receiver):
    call_at(world, world.policy,
            (Stage.REQUEST_CREATED, make_extension(world, receiver.url, behavior=CONTINUE)))
    request = submit_request(world)
    assert (request.state, request.status) == (RequestState.PENDING_APPROVAL,
                                               "Pending approval, stage 1 of 2")
    outbox_send_due()
    callout = ExtensionCallout.objects.get()
    assert (callout.waits, callout.status, callout.callback_due_at) == (
        False, CalloutStatus.CALLOUT_SENT, None)


# Launch and wait


def test_wait_at_created_holds_the_request_until_the_receiver_calls_back(world, receiver,
                                                                         client):
    call_at(world, world.policy, (Stage.REQUEST_CREATED, make_extension(world, receiver.url)))
    request = submit_request(world)
    assert (request.state, request.status) == (RequestState.SUBMITTED,
                                               "Waiting for Compliance check")
    assert not request.stages.exists()
    assert not OutboxMessage.objects.filter(topic="approval_needed").exists()
    outbox_send_due()
    callout = ExtensionCallout.objects.get()
    assert callout.status == CalloutStatus.WAITING
    data = receiver.calls[0].data
    assert data["callbackConfiguration"]["timeoutDuration"] == "PT1H"
    assert data["callbackUri"].endswith(data["callbackUriPath"])
    waiting = history_of(client, world.requester)
    assert "Compliance check: waiting for its answer" in waiting
    assert "Cancel request" in waiting  # while it waits, the requestor may withdraw it

    response = post_callback(client, callout, resume_body(receiver.calls[0],
                                                     detail="Badge checked"))
    assert response.status_code == 204, response.content
    request.refresh_from_db()
    callout.refresh_from_db()
    assert (request.state, request.status) == (RequestState.PENDING_APPROVAL,
                                               "Pending approval, stage 1 of 2")
    assert request.stages.get(order=1).state == StageState.IN_PROGRESS
    assert (callout.status, callout.detail) == (CalloutStatus.CALLBACK_RECEIVED,
                                                "Badge checked")
    assert OutboxMessage.objects.filter(topic="approval_needed",
                                        recipient=world.approver).count() == 1
    assert AuditEvent.objects.filter(action="extension.callbackReceived",
                                     object_id=str(callout.pk)).count() == 1
    assert "Compliance check: answered on" in history_of(client, world.requester)


def test_wait_at_created_without_approval_goes_on_to_delivery(world, receiver, client):
    package, policy = open_package(world)
    call_at(world, policy, (Stage.REQUEST_CREATED, make_extension(world, receiver.url)))
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    assert request.state == RequestState.SUBMITTED and request.assignment is None
    outbox_send_due()
    assert post_callback(client, ExtensionCallout.objects.get(),
                    resume_body(receiver.calls[0])).status_code == 204
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERING
    deliveries_process()
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERED


def test_wait_at_approved_holds_delivery_until_the_receiver_calls_back(world, receiver,
                                                                       client):
    call_at(world, world.policy, (Stage.REQUEST_APPROVED, make_extension(world, receiver.url)))
    request = submit_request(world)
    approve_all(request, world.approver, world.second_approver)
    assert (request.state, request.status) == (RequestState.PENDING_APPROVAL,
                                               "Waiting for Compliance check")
    assert request.assignment is None
    assert OutboxMessage.objects.filter(topic="request_approved").count() == 1
    outbox_send_due()
    callout = ExtensionCallout.objects.get(stage=Stage.REQUEST_APPROVED)
    assert callout.status == CalloutStatus.WAITING
    assert post_callback(client, callout, resume_body(receiver.calls[0])).status_code == 204
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERING
    assert request.assignment.state == AssignmentState.DELIVERING


def test_a_denial_from_the_callback_ends_the_request_with_its_reason(world, receiver, client):
    call_at(world, world.policy, (Stage.REQUEST_CREATED, make_extension(world, receiver.url)))
    request = submit_request(world)
    outbox_send_due()
    response = post_callback(client, ExtensionCallout.objects.get(), resume_body(
        receiver.calls[0], detail="Not cleared for Falcon", state="Denied"))
    assert response.status_code == 204
    request.refresh_from_db()
    assert (request.state, request.status) == (RequestState.DENIED,
                                               "Denied by Compliance check: Not cleared for "
                                               "Falcon")
    assert request.completed_at is not None and not request.stages.exists()
    denied = OutboxMessage.objects.get(topic="request_denied", recipient=world.requester)
    assert denied.payload["justification"] == "Not cleared for Falcon"
    page = history_of(client, world.requester)
    assert "Denied by Compliance check: Not cleared for Falcon" in page
    assert "Request again" in page


def test_a_callback_can_cancel_the_request(world, receiver, client):
    call_at(world, world.policy, (Stage.REQUEST_CREATED, make_extension(world, receiver.url)))
    request = submit_request(world)
    outbox_send_due()
    post_callback(client, ExtensionCallout.objects.get(), resume_body(
        receiver.calls[0], detail="Duplicate of ticket 42", state="canceled"))
    request.refresh_from_db()
    assert (request.state, request.status) == (RequestState.CANCELED,
                                               "Canceled by Compliance check: Duplicate of "
                                               "ticket 42")


def test_only_the_created_stage_can_deny_as_in_graph(world, receiver, client):
    call_at(world, world.policy, (Stage.REQUEST_APPROVED, make_extension(world, receiver.url)))
    request = submit_request(world)
    approve_all(request, world.approver, world.second_approver)
    outbox_send_due()
    before = snapshot()
    response = post_callback(client, ExtensionCallout.objects.get(),
                        resume_body(receiver.calls[0], state="Denied"))
    assert response.status_code == 400
    assert "assignmentRequestCreated" in response.json()["error"]["message"]
    assert snapshot() == before


def test_a_timeout_ends_the_request_with_the_reason_and_a_late_callback_changes_nothing(
        world, receiver, client):
    call_at(world, world.policy, (Stage.REQUEST_CREATED, make_extension(world, receiver.url)))
    request = submit_request(world)
    outbox_send_due()
    callout = ExtensionCallout.objects.get()
    with time_machine.travel(clock.now() + timedelta(minutes=59), tick=False):
        assert extensions_time_out_due() == 0
    with time_machine.travel(clock.now() + timedelta(hours=1, minutes=1), tick=False):
        assert extensions_time_out_due() == 1
        assert extensions_time_out_due() == 0
        request.refresh_from_db()
        callout.refresh_from_db()
        assert (request.state, request.status) == (
            RequestState.DENIED, "Ended: Compliance check did not answer within 1 hour")
        assert callout.status == CalloutStatus.TIMED_OUT
        reason = OutboxMessage.objects.get(topic="request_denied").payload["justification"]
        assert reason == "Compliance check did not answer within 1 hour."
        page = history_of(client, world.requester)
        assert "Ended: Compliance check did not answer within 1 hour" in page
        before = snapshot()
        response = post_callback(client, callout, resume_body(receiver.calls[0]))
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "callbackTimedOut"
        assert snapshot() == before


def test_forged_reused_and_late_callbacks_are_refused_and_change_nothing(world, receiver,
                                                                        client):
    call_at(world, world.policy, (Stage.REQUEST_CREATED, make_extension(world, receiver.url)))
    request = submit_request(world)
    outbox_send_due()
    callout = ExtensionCallout.objects.get()
    path = callout.body["data"]["callbackUriPath"]
    token = path.rstrip("/").rsplit("/", 1)[1]
    before = snapshot()
    body = resume_body(receiver.calls[0])
    # Forged: another token, an altered one.
    for forged in ("abc", token[:-2] + ("AA" if not token.endswith("AA") else "BB")):
        response = client.post(reverse("extension_callback", args=[forged]), body,
                               content_type="application/json")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "invalidCallbackToken"
    # Late, before any sweep has run: the request still waits, and keeps waiting.
    with time_machine.travel(callout.callback_due_at + timedelta(seconds=1), tick=False):
        assert post_callback(client, callout, body).status_code == 409
    # Not the callback data of this callout.
    other_stage = {"data": {**body["data"], "stage": Stage.REQUEST_APPROVED}}
    assert post_callback(client, callout, other_stage).status_code == 400
    assert client.get(path).status_code == 405
    assert snapshot() == before
    assert ExtensionCallout.objects.get().status == CalloutStatus.WAITING
    # Used once, then refused.
    assert post_callback(client, callout, body).status_code == 204
    after = snapshot()
    response = post_callback(client, callout, body)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "alreadyAnswered")
    assert snapshot() == after
    request.refresh_from_db()
    assert request.state == RequestState.PENDING_APPROVAL


def test_a_canceled_request_refuses_the_callback_and_the_sweep_closes_the_callout(
        world, receiver, client):
    call_at(world, world.policy, (Stage.REQUEST_CREATED, make_extension(world, receiver.url)))
    request = submit_request(world)
    outbox_send_due()
    request_cancel(actor=world.requester, request_id=request.pk)
    callout = ExtensionCallout.objects.get()
    response = post_callback(client, callout, resume_body(receiver.calls[0]))
    assert (response.status_code, response.json()["error"]["code"]) == (409,
                                                                        "requestNotWaiting")
    with time_machine.travel(callout.callback_due_at + timedelta(minutes=1), tick=False):
        assert extensions_time_out_due() == 0
    callout.refresh_from_db()
    request.refresh_from_db()
    assert callout.status == CalloutStatus.TIMED_OUT
    assert request.state == RequestState.CANCELED


