"""The scene of the email tests: people, a shared-and-escalating stage, and waiting for the
worker to settle before reading what the SMTP server received (tests/integration/test_emails*)."""


from collections import Counter
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime

import time_machine
from django.utils import translation
from django.utils.formats import date_format
from django.utils.timezone import localtime

from governance.choices import AllowedTargetScope, DeliveryState, OutboxState
from governance.models import (
    AccessPackage,
    Assignment,
    AssignmentRequest,
    OutboxMessage,
    RoleDelivery,
    User,
)
from governance.security.approval_links import approval_link_url
from governance.services.requests import request_submit
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

FINANCE = "Finance reports"
FALCON = "Falcon collaboration"


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


