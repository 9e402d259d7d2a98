"""The outbox under strain: several workers sending at once, and an SMTP server that is down,
lose no email and send none twice."""


from collections import Counter
from datetime import timedelta

import pytest
import time_machine

from governance import clock, tasks
from governance.choices import AllowedTargetScope, Decision, OutboxState
from governance.models import (
    OutboxMessage,
)
from governance.services.approvals import (
    stage_decide,
    stages_time_out_due,
)
from governance.services.expiry import assignments_expire_due, assignments_warn_expiring
from governance.services.internal.retry import backoff
from governance.services.outbox import EMAIL_FIRST_RETRY, outbox_send_due
from governance.services.requests import request_submit
from tests.concurrency.race import raise_unexpected, run_together
from tests.conftest import wait_for
from tests.email_scenes import (
    FINANCE,
    build_scene,
    settle,
)
from tests.factories import (
    PackageFactory,
    PolicyFactory,
    UserFactory,
    add_stage,
    build_world,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def worker_email_backend(smtp_server):
    """The worker sends to the SMTP server, not to locmem."""
    return smtp_server




@pytest.fixture
def many_waiting(task_queue) -> list[OutboxMessage]:
    """Twelve approval emails queued and not yet sent: no worker reads this test's queue."""
    world = build_world()
    approvers = [UserFactory(email=f"approver{n}@access.example") for n in range(12)]
    package = PackageFactory(catalog=world.catalog, display_name=FINANCE)
    add_stage(PolicyFactory(access_package=package,
                            allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS),
              *approvers)
    request_submit(requestor=world.member, access_package_id=package.pk)
    messages = list(OutboxMessage.objects.filter(state=OutboxState.QUEUED))
    assert len(messages) == 12
    return messages


def test_sending_from_several_workers_at_once_delivers_each_email_once(many_waiting,
                                                                       smtp_server):
    # One email per claim, so that the workers' claims interleave rather than one taking all.
    def one_worker():
        return outbox_send_due(batch_size=1)

    outcomes = run_together(one_worker, one_worker, one_worker)
    raise_unexpected(outcomes)
    assert sum(outcome.value for outcome in outcomes) == 12

    assert tasks.send_outbox() == 0  # the send task once more, and once more, afterwards
    assert tasks.send_outbox() == 0

    tally = smtp_server.tally()
    assert set(tally) == {(m.to_address, f"Approval needed: {FINANCE} for Member")
                          for m in many_waiting}
    assert set(tally.values()) == {1}
    assert set(OutboxMessage.objects.values_list("state", "attempts")) == {(OutboxState.SENT, 1)}


def test_an_smtp_outage_delays_the_emails_and_loses_none(celery_worker, smtp_server):
    scene = build_scene()
    smtp_server.stop()
    start = clock.now()

    scene.request_finance()  # the worker sends at once, and fails
    wait_for(lambda: OutboxMessage.objects.filter(state=OutboxState.WAITING_RETRY).count() == 2,
             what="both emails to wait for a retry")
    for message in OutboxMessage.objects.all():
        assert message.attempts == 1
        assert "Connection refused" in message.last_error, message.last_error
        assert start < message.next_attempt_at <= clock.now() + backoff(1, first=EMAIL_FIRST_RETRY)
        assert message.sent_at is None

    second_try = clock.now() + backoff(1, first=EMAIL_FIRST_RETRY) + timedelta(seconds=5)
    with time_machine.travel(second_try):
        tasks.sweep_outbox.delay()  # still down: the second attempt fails too
        wait_for(lambda: set(OutboxMessage.objects.values_list("state", "attempts"))
                 == {(OutboxState.WAITING_RETRY, 2)}, what="the second failed attempt")
    assert smtp_server.count() == 0

    smtp_server.start()
    with time_machine.travel(second_try + timedelta(minutes=1)):
        assert outbox_send_due() == 0  # up again, but nothing is due before its backoff
    third_try = second_try + backoff(2, first=EMAIL_FIRST_RETRY) + timedelta(minutes=1)
    with time_machine.travel(third_try):
        tasks.sweep_outbox.delay()
        tasks.sweep_outbox.delay()
        settle()

    assert smtp_server.tally() == Counter({
        (person.email, f"Approval needed: {FINANCE} for Member"): 1 for person in scene.approvers})
    assert set(OutboxMessage.objects.values_list("state", "attempts", "last_error")) == {
        (OutboxState.SENT, 3, "")}


def test_a_policy_without_assignment_emails_still_emails_its_approvers(celery_worker,
                                                                       smtp_server):
    scene = build_scene()
    world = scene.world
    scene.package.policies.update(send_assignment_emails=False)
    approved_one, denied_one, late_one = (world.member, UserFactory(email="denied@access.example"),
                                          UserFactory(email="late@access.example"))
    approved, denied, late = (scene.request_finance(person)
                              for person in (approved_one, denied_one, late_one))
    stage_decide(stage_id=approved.stages.get().pk, approver=world.approver,
                 decision=Decision.APPROVE)
    stage_decide(stage_id=denied.stages.get().pk, approver=world.approver, decision=Decision.DENY)
    settle()
    approved.refresh_from_db()
    assignment = approved.assignment
    assert assignment.state == "delivered"

    for moment, sweep in ((late.stages.get().due_at + timedelta(minutes=1), stages_time_out_due),
                          (assignment.expires_at - timedelta(days=13), assignments_warn_expiring),
                          (assignment.expires_at + timedelta(minutes=1), assignments_expire_due)):
        with time_machine.travel(moment):
            assert sweep() == 1
            settle()

    requestors = [approved_one.email, denied_one.email, late_one.email]
    assert not OutboxMessage.objects.filter(to_address__in=requestors).exists()
    assert not [m for m in smtp_server.messages if set(m.recipients) & set(requestors)]
    needed, decided, expired = (f"Approval needed: {FINANCE} for {{}}",
                                f"Already decided: {FINANCE} for {{}}",
                                f"Request expired: {FINANCE} for {{}}")
    assert smtp_server.tally() == Counter({
        **{(approver.email, needed.format(person)): 1
           for approver in scene.approvers for person in (approved_one, denied_one, late_one)},
        (world.second_approver.email, decided.format(approved_one)): 1,
        (world.second_approver.email, decided.format(denied_one)): 1,
        (world.approver.email, expired.format(late_one)): 1,
        (world.second_approver.email, expired.format(late_one)): 1,
    })


def test_a_server_that_accepts_and_never_answers_fails_the_send_within_email_timeout(
        many_waiting, settings):
    """Without EMAIL_TIMEOUT a silent server held a worker for as long as the OS allowed."""
    import socket
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts (the kernel does), never says a word
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent.getsockname()[1]
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 1
    try:
        started = time.monotonic()
        outbox_send_due(batch_size=1)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert elapsed < 12 * 2.5  # about a second each, then on to the next
    assert set(OutboxMessage.objects.values_list("state", "attempts")) == {
        (OutboxState.WAITING_RETRY, 1)}
    assert all("timed out" in error for error in
               OutboxMessage.objects.values_list("last_error", flat=True))
