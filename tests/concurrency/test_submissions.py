"""The same request submitted twice at the same moment (a double click, two tabs)."""

import threading

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.choices import REQUEST_OPEN, RequestState, RequestType
from governance.models import (
    ApprovalStage,
    AssignmentRequest,
    AuditEvent,
    OutboxMessage,
    RequestAnswer,
)
from governance.services.errors import Duplicate
from governance.services.requests import request_submit
from tests.concurrency.race import run_together
from tests.factories import GuestFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROUNDS = 50


def test_two_identical_submissions_at_once_create_one_request(world):
    for _ in range(ROUNDS):
        requester = GuestFactory(connected_organization=world.organization)

        def submit(requester=requester):
            return request_submit(requestor=requester, access_package_id=world.package.pk,
                                  justification="Joining the Falcon project",
                                  answers={world.question.pk: "FAL-2026"})

        outcomes = run_together(submit, submit)

        succeeded = [outcome.value for outcome in outcomes if outcome.ok]
        refused = [outcome.error for outcome in outcomes if not outcome.ok]
        assert len(succeeded) == 1, refused
        assert len(refused) == 1 and isinstance(refused[0], Duplicate), repr(refused[0])
        assert refused[0].code == "duplicateRequest"
        assert str(refused[0]).startswith(f"A request for “{world.package}” is already pending")

        request = AssignmentRequest.objects.get(target=requester)
        assert request.pk == succeeded[0].pk
        assert request.state == RequestState.PENDING_APPROVAL
        assert RequestAnswer.objects.filter(request__target=requester).count() == 1
        assert ApprovalStage.objects.filter(request=request).count() == 2
        assert AuditEvent.objects.filter(action="request.submitted",
                                         after__target=requester.pk).count() == 1
        assert OutboxMessage.objects.filter(topic="approval_needed",
                                            payload__request_id=request.pk).count() == 1


def test_without_the_user_lock_both_submissions_find_no_pending_request(world):
    """The race request_submit's lock on the target closes: two unlocked "is one pending?"
    checks both answer no, and only the one-open-request index stops the second insert.
    """
    requester = GuestFactory(connected_organization=world.organization)
    seen = []
    both_checked = threading.Barrier(2, timeout=30)

    def naive_submit():
        with transaction.atomic():
            pending = AssignmentRequest.objects.filter(  # no lock on the requester
                target=requester, access_package=world.package,
                state__in=REQUEST_OPEN).exists()
            seen.append(pending)
            both_checked.wait()
            if not pending:
                AssignmentRequest.objects.create(
                    request_type=RequestType.USER_ADD, state=RequestState.SUBMITTED,
                    access_package=world.package, policy=world.policy, requestor=requester,
                    target=requester, created_at=timezone.now())

    outcomes = run_together(naive_submit, naive_submit)

    assert seen == [False, False]
    failures = [outcome.error for outcome in outcomes if not outcome.ok]
    assert len(failures) == 1 and isinstance(failures[0], IntegrityError), failures
    assert AssignmentRequest.objects.filter(target=requester).count() == 1
