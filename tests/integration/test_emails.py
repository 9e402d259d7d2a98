"""Who gets which email, once: the outbox, sent by a real Celery worker to a real SMTP server.

Each event runs as in production: the service commits its outbox rows, the worker sends them
to an SMTP server on loopback (aiosmtpd), and the test reads what that server received.
"""

from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import translation
from django.utils.formats import date_format
from django.utils.timezone import localtime

from governance import clock, tasks
from governance.choices import AllowedTargetScope, Decision, DeliveryState, OutboxState
from governance.models import (
    AccessPackage,
    Assignment,
    AssignmentRequest,
    OutboxMessage,
    RoleDelivery,
    User,
)
from governance.security.approval_links import LinkProblem, approval_link_check, approval_link_url
from governance.services.approvals import (
    stage_decide,
    stages_escalate_due,
    stages_remind_due,
    stages_time_out_due,
)
from governance.services.expiry import assignments_expire_due, assignments_warn_expiring
from governance.services.outbox import backoff, outbox_send_due
from governance.services.requests import request_cancel, request_submit
from tests.concurrency.race import raise_unexpected, run_together
from tests.conftest import wait_for
from tests.factories import (
    PackageFactory,
    PolicyFactory,
    UserFactory,
    World,
    add_stage,
    approve_all,
    build_world,
    group_role,
    submit_request,
)
from tests.mail import Mailbox, Received

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

FINANCE = "Finance reports"
FALCON = "Falcon collaboration"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def worker_email_backend(smtp_server):
    """The worker sends to the SMTP server, not to locmem."""
    return smtp_server


@dataclass
class Scene:
    """build_world()'s people, and "Finance reports": one stage that two approvers share and
    that escalates after 3 days to two more."""

    world: World
    package: AccessPackage
    escalation: list[User]

    @property
    def approvers(self) -> list[User]:
        return [self.world.approver, self.world.second_approver]

    def request_finance(self, requestor: User | None = None) -> AssignmentRequest:
        return request_submit(requestor=requestor or self.world.member,
                              access_package_id=self.package.pk)


def build_scene() -> Scene:
    world = build_world()
    escalation = [UserFactory(email="escalation@access.example"),
                  UserFactory(email="escalation.two@access.example")]
    package = PackageFactory(catalog=world.catalog, display_name=FINANCE)
    group_role(package, world.other_group)
    policy = PolicyFactory(access_package=package, display_name="Members",
                           allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS)
    add_stage(policy, world.approver, world.second_approver, escalation=escalation,
              escalate_after_days=3, deadline_days=14)
    return Scene(world, package, escalation)


@dataclass(frozen=True)
class Mail:
    to: User
    subject: str
    containing: tuple[str, ...] = ()


def settled() -> bool:
    """Nothing left for the worker: every role change done, every email sent (or given up).

    Deliveries are asked first: a delivery's last role commits together with its "access
    delivered" email, so once they are done that email is in the outbox. Asked the other way
    round, the worker could commit both between the two queries, and the email be missed.
    """
    if RoleDelivery.objects.filter(state__in=[DeliveryState.PENDING,
                                              DeliveryState.IN_FLIGHT]).exists():
        return False
    return not OutboxMessage.objects.filter(state__in=[
        OutboxState.QUEUED, OutboxState.IN_FLIGHT, OutboxState.WAITING_RETRY]).exists()


def settle() -> None:
    wait_for(settled, what="the worker to send every email and finish every delivery")


class Event:
    """`with event(at=...)`: what the mailbox receives because of the block's work, once the
    worker has finished it; what came before is settled first and left out."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox
        self.received: list[Received] = []

    @contextmanager
    def __call__(self, *, at: datetime | None = None):
        settle()
        start = self.mailbox.count()
        with time_machine.travel(at, tick=True) if at else nullcontext():
            yield
            settle()
        self.received = self.mailbox.since(start)


def assert_received_once(received: list[Received], expected: list[Mail]) -> None:
    got = Counter((address, message.subject) for message in received
                  for address in message.recipients)
    assert got == Counter((mail.to.email, mail.subject) for mail in expected)
    for mail in expected:
        (message,) = [m for m in received
                      if mail.to.email in m.recipients and m.subject == mail.subject]
        for fragment in mail.containing:
            assert fragment in message.text, f"{fragment!r} not in:\n{message.text}"


def own_link(request: AssignmentRequest, approver: User) -> str:
    return approval_link_url(request.stages.get(order=1), approver.pk)


def deadline(request: AssignmentRequest) -> str:
    with translation.override("en"):
        return date_format(localtime(request.stages.get(order=1).due_at), "DATETIME_FORMAT")


def delivered(scene: Scene) -> Assignment:
    """The requester's Falcon request, approved by both stages and delivered by the worker."""
    world = scene.world
    request = submit_request(world)
    approve_all(request, world.approver, world.second_approver)
    settle()
    request.refresh_from_db()
    return request.assignment


# One function per event: it makes the event happen inside `event()` and returns the emails
# that the event alone must send.


def approval_needed(scene: Scene, event: Event) -> list[Mail]:
    with event():
        request = scene.request_finance()
    return [Mail(person, f"Approval needed: {FINANCE} for Member", (own_link(request, person),))
            for person in scene.approvers]


def approval_reminder(scene: Scene, event: Event) -> list[Mail]:
    request = scene.request_finance()
    halfway = request.stages.get().started_at + timedelta(days=7, minutes=1)
    with event(at=halfway):
        assert stages_remind_due() == 1
    return [Mail(person, f"Reminder: approval needed by {deadline(request)}: {FINANCE} for Member",
                 (own_link(request, person),))
            for person in scene.approvers]


def approval_escalated(scene: Scene, event: Event) -> list[Mail]:
    request = scene.request_finance()
    with event(at=request.stages.get().started_at + timedelta(days=3, minutes=1)):
        assert stages_escalate_due() == 1
    return [Mail(person, f"Approval forwarded to you: {FINANCE} for Member",
                 (own_link(request, person),))
            for person in scene.escalation]


def approved_by_one_approver(scene: Scene, event: Event) -> list[Mail]:
    world = scene.world
    request = scene.request_finance()
    with event():
        stage_decide(stage_id=request.stages.get().pk, approver=world.second_approver,
                     decision=Decision.APPROVE)
    return [Mail(world.approver, f"Already decided: {FINANCE} for Member"),
            Mail(world.member, f"Approved: {FINANCE}"),
            Mail(world.member, f"Access delivered: {FINANCE}")]


def denied_by_one_approver(scene: Scene, event: Event) -> list[Mail]:
    world = scene.world
    request = scene.request_finance()
    with event():
        stage_decide(stage_id=request.stages.get().pk, approver=world.approver,
                     decision=Decision.DENY, justification="Not on the finance team")
    return [Mail(world.second_approver, f"Already decided: {FINANCE} for Member"),
            Mail(world.member, f"Denied: {FINANCE}", ("Reason: Not on the finance team",))]


def timed_out(scene: Scene, event: Event) -> list[Mail]:
    request = scene.request_finance()
    with event(at=request.stages.get().due_at + timedelta(minutes=1)):
        assert stages_time_out_due() == 1
    return [*(Mail(person, f"Request expired: {FINANCE} for Member") for person in scene.approvers),
            Mail(scene.world.member, f"Request expired: {FINANCE}")]


def canceled(scene: Scene, event: Event) -> list[Mail]:
    request = scene.request_finance()
    with event():
        request_cancel(actor=scene.world.member, request_id=request.pk)
    return [Mail(person, f"Request canceled: {FINANCE} for Member") for person in scene.approvers]


def approved_at_the_last_stage_and_delivered(scene: Scene, event: Event) -> list[Mail]:
    world = scene.world
    request = submit_request(world)
    stage_decide(stage_id=request.stages.get(order=1).pk, approver=world.approver,
                 decision=Decision.APPROVE)
    with event():
        stage_decide(stage_id=request.stages.get(order=2).pk, approver=world.second_approver,
                     decision=Decision.APPROVE)
    return [Mail(world.requester, f"Approved: {FALCON}"),
            Mail(world.requester, f"Access delivered: {FALCON}")]


def expiring_in_14_days(scene: Scene, event: Event) -> list[Mail]:
    assignment = delivered(scene)
    with event(at=assignment.expires_at - timedelta(days=13)):
        assert assignments_warn_expiring() == 1
    return [Mail(scene.world.requester, f"Your access to {FALCON} ends in 14 days",
                 (f"/access/{assignment.pk}/extend/",))]


def expiring_in_1_day(scene: Scene, event: Event) -> list[Mail]:
    assignment = delivered(scene)
    with event(at=assignment.expires_at - timedelta(hours=12)):
        assert assignments_warn_expiring() == 1
    return [Mail(scene.world.requester, f"Your access to {FALCON} ends in 1 day",
                 (f"/access/{assignment.pk}/extend/",))]


def ended_and_guest_blocked(scene: Scene, event: Event) -> list[Mail]:
    assignment = delivered(scene)
    with event(at=assignment.expires_at + timedelta(minutes=1)):
        assert assignments_expire_due() == 1
    return [Mail(scene.world.requester, f"Access ended: {FALCON}"),
            Mail(scene.world.requester, "Your sign-in is blocked")]


EVENTS: list[Callable[[Scene, Event], list[Mail]]] = [
    approval_needed, approval_reminder, approval_escalated, approved_by_one_approver,
    denied_by_one_approver, timed_out, canceled, approved_at_the_last_stage_and_delivered,
    expiring_in_14_days, expiring_in_1_day, ended_and_guest_blocked,
]


@pytest.mark.parametrize("happen", EVENTS, ids=[happen.__name__ for happen in EVENTS])
def test_each_event_emails_the_right_people_once(celery_worker, smtp_server, happen):
    scene = build_scene()
    event = Event(smtp_server)

    expected = happen(scene, event)

    assert_received_once(event.received, expected)


def test_each_approver_gets_a_link_of_their_own(celery_worker, smtp_server):
    scene = build_scene()
    first, second = scene.approvers

    scene.request_finance()
    settle()

    links = {person: smtp_server.latest_link(person.email, "/approvals/link/",
                                             subject="Approval needed")
             for person in scene.approvers}
    assert links[first] != links[second]
    for person, link in links.items():
        token = link.rstrip("/").rsplit("/", 1)[-1]
        assert approval_link_check(token, person).problem is None
        assert approval_link_check(token, person).approver == person
        someone_else = second if person == first else first
        assert approval_link_check(token, someone_else).problem == LinkProblem.FORWARDED


# Sending twice, and a mail server that is down


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
        assert start < message.next_attempt_at <= clock.now() + backoff(1)
        assert message.sent_at is None

    second_try = clock.now() + backoff(1) + timedelta(seconds=5)
    with time_machine.travel(second_try):
        tasks.sweep_outbox.delay()  # still down: the second attempt fails too
        wait_for(lambda: set(OutboxMessage.objects.values_list("state", "attempts"))
                 == {(OutboxState.WAITING_RETRY, 2)}, what="the second failed attempt")
    assert smtp_server.count() == 0

    smtp_server.start()
    with time_machine.travel(second_try + timedelta(minutes=1)):
        assert outbox_send_due() == 0  # up again, but nothing is due before its backoff
    with time_machine.travel(second_try + backoff(2) + timedelta(minutes=1)):
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
