"""Custom extensions end to end: a real Celery worker sends the signed calls from the outbox to
a receiver on loopback, which checks the signature and calls back the portal, served by
live_server, at the address each call carries."""

from datetime import timedelta

import pytest
import time_machine

from governance import clock, tasks
from governance.choices import CalloutStatus, CustomExtensionStage, RequestState
from governance.models import AssignmentRequest, ExtensionCallout
from tests.conftest import wait_for
from tests.extension_helpers import CONTINUE, call_at, make_extension
from tests.factories import approve_all, build_world, submit_request
from tests.webhook_receiver import resume_body

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

Stage = CustomExtensionStage


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def configure(world, receiver):
    """A waiting "Compliance check" when requests are created and approved, and a "Notice"
    that does not wait when access is granted."""
    checks = make_extension(world, receiver.url)
    notice = make_extension(world, receiver.url, behavior=CONTINUE, name="Notice")
    call_at(world, world.policy, (Stage.REQUEST_CREATED, checks),
            (Stage.REQUEST_APPROVED, checks), (Stage.REQUEST_GRANTED, notice))


def state_of(request) -> str:
    return AssignmentRequest.objects.values_list("state", flat=True).get(pk=request.pk)


def test_the_receiver_calls_back_and_the_request_goes_on_to_delivery(
        celery_worker, live_server, settings, receiver):
    settings.SITE_URL = live_server.url
    receiver.answer, receiver.callback_base = resume_body, live_server.url
    world = build_world()
    configure(world, receiver)

    request = submit_request(world)
    assert state_of(request) == RequestState.SUBMITTED
    wait_for(lambda: state_of(request) == RequestState.PENDING_APPROVAL,
             what="the callback of the created stage")
    approve_all(request, world.approver, world.second_approver)
    wait_for(lambda: state_of(request) == RequestState.DELIVERED,
             what="the callback of the approved stage, then delivery")
    wait_for(lambda: len(receiver.calls) == 3, what="the granted call")
    # The worker records the call as sent once the receiver has answered it, which is
    # shortly after the receiver counted it.
    wait_for(lambda: ExtensionCallout.objects.filter(
        stage=Stage.REQUEST_GRANTED, status=CalloutStatus.CALLOUT_SENT).exists(),
        what="the granted call recorded as sent")

    assert [call.data["stage"] for call in receiver.calls] == [
        Stage.REQUEST_CREATED, Stage.REQUEST_APPROVED, Stage.REQUEST_GRANTED]
    assert all(call.verified for call in receiver.calls)
    assert [callback.status for callback in receiver.callbacks] == [204, 204]
    assert dict(ExtensionCallout.objects.values_list("stage", "status")) == {
        Stage.REQUEST_CREATED: CalloutStatus.CALLBACK_RECEIVED,
        Stage.REQUEST_APPROVED: CalloutStatus.CALLBACK_RECEIVED,
        Stage.REQUEST_GRANTED: CalloutStatus.CALLOUT_SENT}


def test_a_receiver_that_never_answers_times_the_request_out(celery_worker, receiver):
    world = build_world()
    configure(world, receiver)
    request = submit_request(world)
    wait_for(lambda: ExtensionCallout.objects.filter(status=CalloutStatus.WAITING).exists(),
             what="the call to be sent")
    assert receiver.calls[0].verified
    with time_machine.travel(clock.now() + timedelta(hours=1, minutes=1)):
        tasks.sweep_approvals.delay()
        wait_for(lambda: state_of(request) == RequestState.DENIED, what="the timeout")
    request.refresh_from_db()
    assert request.status == "Ended: Compliance check did not answer within 1 hour"
    assert ExtensionCallout.objects.get().status == CalloutStatus.TIMED_OUT
