"""A custom extension's calls against receivers on loopback that misbehave or are no longer
allowed: the call is checked again when it is sent and at the address it connects to,
redirects are not followed, huge answers are not read, slow ones are cut, and what a catalog
owner is shown is the status and a short reason, never the receiver's own text."""

import ssl
import time
from datetime import timedelta

import pytest
from django.urls import reverse

from governance.choices import CalloutStatus, CustomExtensionStage, OutboxState
from governance.connectors import webhook
from governance.connectors.base import ConnectorError
from governance.connectors.outbound import AllowList, OutboundRefused
from governance.connectors.outbound_http import Deadline, guarded_session
from governance.models import ExtensionCallout, OutboxMessage
from governance.services.outbox import outbox_send_due
from tests.conftest import wait_for
from tests.extension_helpers import (
    SECRET,
    allow_outbound,
    call_at,
    disallow_outbound,
    make_extension,
)
from tests.factories import build_world, submit_request
from tests.graph_server import write_certificate
from tests.webhook_receiver import RawReceiver, Receiver

pytestmark = [pytest.mark.services, pytest.mark.django_db]

Stage = CustomExtensionStage
TEN_MB = 10 * 1024 * 1024


@pytest.fixture
def world(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return build_world()


@pytest.fixture
def raw_receiver():
    started = RawReceiver().start()
    yield started
    started.stop()


def send_once(world, url: str) -> tuple[OutboxMessage, ExtensionCallout]:
    """A request whose creation calls an extension at `url`, and one attempt to send it."""
    call_at(world, world.policy, (Stage.REQUEST_CREATED,
                                  make_extension(world, url, timeout=timedelta(days=1))))
    submit_request(world)
    outbox_send_due()
    message = OutboxMessage.objects.get(channel=OutboxMessage.Channel.WEBHOOK)
    return message, ExtensionCallout.objects.get()


def owner_page(client, world, callout: ExtensionCallout) -> str:
    """The extension's page as its catalog owner sees it, with its latest calls."""
    client.force_login(world.owner,
                       backend="allauth.account.auth_backends.AuthenticationBackend")
    return client.get(reverse("admin:governance_customextension_change",
                              args=[callout.extension_id])).content.decode()


@pytest.fixture
def tls_receiver(tmp_path, settings):
    """A receiver at https://localhost, whose certificate the connectors are told to trust."""
    cert, key = write_certificate(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    settings.CONNECTOR_CA_BUNDLE = str(cert)
    started = Receiver(SECRET, tls=tls).start()
    yield started
    started.stop()


@pytest.mark.parametrize(("which", "entry", "reason"), [
    ("receiver", "127.0.0.1", "The address must start with https://, so that the calls and "
                              "the people's details in them are encrypted: plain http:// is "
                              "only for hosts a global administrator allow-lists in the "
                              "tenant settings."),
    ("tls_receiver", "localhost", "localhost resolves to a loopback address (this "
                                  "machine): only public addresses can be called, unless a "
                                  "global administrator allow-lists the host in the tenant "
                                  "settings."),
])
def test_a_call_to_a_host_taken_off_the_allow_list_fails_when_it_is_sent(
        world, request, client, which, entry, reason):
    receiver = request.getfixturevalue(which)
    call_at(world, world.policy, (Stage.REQUEST_CREATED,
                                  make_extension(world, receiver.url, timeout=timedelta(days=1))))
    submit_request(world)
    disallow_outbound(entry)  # after the extension was saved
    outbox_send_due()
    message = OutboxMessage.objects.get(channel=OutboxMessage.Channel.WEBHOOK)
    assert (message.state, message.attempts, message.last_error) == (
        OutboxState.FAILED, 1, reason)
    callout = ExtensionCallout.objects.get()
    assert (callout.status, callout.detail) == (CalloutStatus.CALLOUT_FAILED, reason)
    assert receiver.calls == []
    assert reason[:30] in owner_page(client, world, callout)


def test_the_address_a_connection_reaches_is_checked_before_anything_is_sent(raw_receiver):
    """As if the name resolved elsewhere between the check of the URL and the connection."""
    for host in ("127.0.0.1", "localhost"):
        session = guarded_session(AllowList(), Deadline(5))
        with pytest.raises(OutboundRefused, match="a loopback address"):
            session.post(raw_receiver.url.replace("127.0.0.1", host), data=b"{}", timeout=5)
        session.close()
    assert not any(raw_receiver.requests), raw_receiver.requests
    session = guarded_session(AllowList.of(["127.0.0.1"]), Deadline(5))
    assert session.post(raw_receiver.url, data=b"{}", timeout=5).status_code == 200
    session.close()


def test_a_redirect_is_not_followed_and_only_its_host_is_shown(world, receiver, raw_receiver,
                                                              client):
    raw_receiver.status = 302
    raw_receiver.headers = {"Location": f"{receiver.url}?token=stolen-token"}
    message, callout = send_once(world, raw_receiver.url)
    assert (message.state, message.attempts) == (OutboxState.FAILED, 1)
    port = receiver.server.server_port
    assert message.last_error == (
        f"302 from POST {raw_receiver.url} (Found): a redirect to 127.0.0.1:{port}, which is "
        "not followed. Give the extension the final address.")
    assert receiver.calls == []  # the Location never received a request
    assert "stolen-token" not in owner_page(client, world, callout)


@pytest.mark.parametrize("status", [200, 500])
def test_a_huge_answer_is_not_read_and_its_text_is_never_shown(world, raw_receiver, client,
                                                               status):
    raw_receiver.status, raw_receiver.body_size = status, TEN_MB
    message, callout = send_once(world, raw_receiver.url)
    [sent] = wait_for(lambda: raw_receiver.sent, what="the receiver to stop sending")
    # What the socket took before the client closed: 64 KiB read, plus the buffers between.
    assert sent < 2 * 1024 * 1024, sent
    if status == 200:
        assert message.state == OutboxState.SENT
        assert callout.status == CalloutStatus.WAITING
        return
    assert message.state == OutboxState.WAITING_RETRY
    expected = f"500 from POST {raw_receiver.url} (Internal Server Error): the receiver failed."
    assert message.last_error == expected
    assert callout.detail == f"Not sent yet: {expected}"
    page = owner_page(client, world, callout)
    assert "500 from POST" in page
    for remote in ("REMOTE-BODY", "Whatever the receiver says"):
        assert remote not in message.last_error and remote not in page


def test_a_receiver_that_answers_a_byte_at_a_time_is_cut_at_the_deadline(db, raw_receiver):
    raw_receiver.drip_every = 0.2  # the whole head would take half a minute
    allow_outbound("127.0.0.1")
    started = time.monotonic()
    with pytest.raises(ConnectorError) as caught:
        webhook.post(url=raw_receiver.url, secret=SECRET, body={"hello": "world"},
                     callout_id=1, deadline=1.0)
    assert time.monotonic() - started < 4
    port = raw_receiver.server.server_address[1]
    assert str(caught.value) == f"http://127.0.0.1:{port} did not answer within 1 s."
    assert caught.value.retryable


def test_tls_is_still_verified_against_the_host_name(db, tls_receiver, settings):
    allow_outbound("localhost")
    assert webhook.post(url=tls_receiver.url, secret=SECRET, body={}, callout_id=1) == 200
    assert [call.verified for call in tls_receiver.calls] == [True]
    settings.CONNECTOR_CA_BUNDLE = True  # the system's authorities: not our own
    with pytest.raises(ConnectorError, match="certificate was refused") as caught:
        webhook.post(url=tls_receiver.url, secret=SECRET, body={}, callout_id=2)
    assert not caught.value.retryable and len(tls_receiver.calls) == 1
