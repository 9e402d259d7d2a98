import smtplib
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from governance import clock
from governance.choices import OutboxState
from governance.models import OutboxMessage
from governance.services.outbox import MAX_ATTEMPTS, notify, outbox_send_due
from governance.services.requests import request_submit

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


class BrokenBackend(EmailBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("mail server went away")


class DyingBackend(EmailBackend):
    def send_messages(self, messages):
        raise SystemExit("worker killed while talking to the mail server")


class SecondWorkerBackend(EmailBackend):
    """While the first worker is sending, a second one sweeps the outbox."""

    second_sweep: list[int] = []

    def send_messages(self, messages):
        SecondWorkerBackend.second_sweep.append(outbox_send_due())
        return super().send_messages(messages)


@pytest.fixture
def email(settings):
    settings.EMAIL_BACKEND = LOCMEM
    return settings


@pytest.fixture
def message(world, email):
    request_submit(requestor=world.requester, access_package_id=world.package.pk,
                   justification="Joining the Falcon project",
                   answers={world.question.pk: "FAL-2026"})
    return OutboxMessage.objects.get(topic="approval_needed")


def test_queued_email_is_sent_once(world, message):
    assert outbox_send_due() == 1
    assert outbox_send_due() == 0
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [world.approver.email]
    assert "Falcon collaboration" in sent.subject + sent.body
    message.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxState.SENT, 1)
    assert message.sent_at is not None


def test_notify_with_a_dedupe_key_queues_once(world, email):
    for _ in range(2):
        notify(topic="guest_blocked", recipients=[world.requester],
               payload={"user_id": world.requester.pk}, dedupe_key="guest_blocked:once")
    assert OutboxMessage.objects.filter(topic="guest_blocked").count() == 1


def test_failed_send_is_retried_with_backoff_then_sent(message, email):
    email.EMAIL_BACKEND = "tests.unit.test_outbox.BrokenBackend"
    start = clock.now()
    with time_machine.travel(start, tick=False):
        assert outbox_send_due() == 1
    message.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxState.WAITING_RETRY, 1)
    assert "mail server went away" in message.last_error
    assert message.next_attempt_at == start + timedelta(minutes=1)
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        assert outbox_send_due() == 0
    email.EMAIL_BACKEND = LOCMEM
    with time_machine.travel(start + timedelta(minutes=1, seconds=1), tick=False):
        assert outbox_send_due() == 1
    message.refresh_from_db()
    assert (message.state, message.attempts, message.last_error) == (OutboxState.SENT, 2, "")
    assert len(mail.outbox) == 1


def test_send_failing_every_time_ends_failed(message, email):
    email.EMAIL_BACKEND = "tests.unit.test_outbox.BrokenBackend"
    at = clock.now()
    waits = []
    for _ in range(MAX_ATTEMPTS):
        with time_machine.travel(at, tick=False):
            assert outbox_send_due() == 1
        message.refresh_from_db()
        if message.state == OutboxState.WAITING_RETRY:
            waits.append(message.next_attempt_at - at)
            at = message.next_attempt_at
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]
    assert (message.state, message.attempts) == (OutboxState.FAILED, MAX_ATTEMPTS)
    with time_machine.travel(at + timedelta(days=1), tick=False):
        assert outbox_send_due() == 0


def test_message_in_flight_is_not_claimed_by_a_second_worker(message, email):
    email.EMAIL_BACKEND = "tests.unit.test_outbox.SecondWorkerBackend"
    SecondWorkerBackend.second_sweep = []
    assert outbox_send_due(message_id=message.pk) == 1
    assert SecondWorkerBackend.second_sweep == [0]
    assert len(mail.outbox) == 1
    assert outbox_send_due(message_id=message.pk) == 0
    assert len(mail.outbox) == 1


def test_message_left_in_flight_by_a_dead_worker_is_sent_once_later(message, email):
    email.EMAIL_BACKEND = "tests.unit.test_outbox.DyingBackend"
    start = clock.now()
    with time_machine.travel(start, tick=False), pytest.raises(SystemExit):
        outbox_send_due()
    message.refresh_from_db()
    assert message.state == OutboxState.IN_FLIGHT
    email.EMAIL_BACKEND = LOCMEM
    with time_machine.travel(start + timedelta(minutes=9), tick=False):
        assert outbox_send_due() == 0
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert outbox_send_due() == 1
        assert outbox_send_due() == 0
    message.refresh_from_db()
    assert (message.state, message.attempts) == (OutboxState.SENT, 2)
    assert len(mail.outbox) == 1


class DiesAfterSendingBackend(EmailBackend):
    """The mail server takes the message, then the worker dies before recording it."""

    def send_messages(self, messages):
        super().send_messages(messages)
        raise SystemExit("worker killed after the mail server took the message")


def test_a_resend_after_a_lost_record_carries_the_same_message_id(world, message, email):
    email.EMAIL_BACKEND = "tests.unit.test_outbox.DiesAfterSendingBackend"
    start = clock.now()
    with time_machine.travel(start, tick=False), pytest.raises(SystemExit):
        outbox_send_due()
    email.EMAIL_BACKEND = LOCMEM
    with time_machine.travel(start + timedelta(minutes=11), tick=False):
        assert outbox_send_due() == 1
    first, resent = mail.outbox
    assert first.extra_headers["Message-ID"] == resent.extra_headers["Message-ID"]
    assert first.extra_headers["Message-ID"].startswith(f"<outbox.{message.pk}.")
