"""Who gets which email, once: the outbox, sent by a real Celery worker to a real SMTP server.

Each event runs as in production: the service commits its outbox rows, the worker sends them
to an SMTP server on loopback (aiosmtpd), and the test reads what that server received.
"""

from collections.abc import Callable
from datetime import timedelta

import pytest

from governance.choices import Decision
from governance.security.approval_links import LinkProblem, approval_link_check
from governance.services.approvals import (
    stage_decide,
    stages_escalate_due,
    stages_remind_due,
    stages_time_out_due,
)
from governance.services.expiry import assignments_expire_due, assignments_warn_expiring
from governance.services.requests import request_cancel
from tests.email_scenes import (
    FALCON,
    FINANCE,
    Event,
    Mail,
    Scene,
    assert_received_once,
    build_scene,
    deadline,
    delivered,
    own_link,
    settle,
)
from tests.factories import (
    submit_request,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def worker_email_backend(smtp_server):
    """The worker sends to the SMTP server, not to locmem."""
    return smtp_server


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
