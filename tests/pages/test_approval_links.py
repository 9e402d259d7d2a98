"""The emailed approval link: it shows on GET, decides only on its approver's POST, and every
misuse (altered, expired, reused, forwarded) shows one clear page and changes nothing."""

from datetime import timedelta

import pytest
import time_machine
from django.core import signing
from django.urls import reverse

from governance.choices import Decision, RequestState, StageState
from governance.models import ApprovalDecision
from governance.security.approval_links import SALT, approval_link_token
from governance.services.approvals import stage_decide, stages_time_out_due
from tests.factories import UserFactory, snapshot, submit_request


@pytest.fixture
def pending(world):
    """The requester's request, waiting at stage 1 for world.approver."""
    request = submit_request(world)
    return request.stages.get(order=1)


def _link(stage, approver) -> str:
    return reverse("approval_link", args=[approval_link_token(stage, approver.pk)])


def _approve(client, url, justification="Known partner"):
    return client.post(url, {"justification": justification, "approve": "1"})


def test_signed_out_the_link_asks_to_sign_in_and_reveals_nothing(client, world, pending):
    before = snapshot()
    response = client.get(_link(pending, world.approver))
    assert response.status_code == 200
    page = response.content.decode()
    assert "A request waits for your decision" in page
    assert "a***@access.example" in page
    assert world.requester.email not in page and "Joining the Falcon project" not in page
    assert "next=%2Fapprovals%2Flink%2F" in page
    assert snapshot() == before


def test_a_signed_out_post_decides_nothing_and_asks_to_sign_in(client, world, pending):
    before = snapshot()
    response = _approve(client, _link(pending, world.approver))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert snapshot() == before


def test_the_approver_sees_the_request_and_opening_it_changes_nothing(as_user, world, pending):
    """What a link-scanning mail filter does, even with the approver's cookies: GET only."""
    client = as_user(world.approver)
    before = snapshot()
    for _ in range(3):
        response = client.get(_link(pending, world.approver))
        assert response.status_code == 200
    page = response.content.decode()
    for fact in ("Contoso", "Joining the Falcon project", "FAL-2026", world.requester.email,
                 "Approve", "Deny", "Justification"):
        assert fact in page
    assert snapshot() == before


def test_the_approver_decides_by_post_and_the_next_stage_starts(as_user, world, pending):
    client = as_user(world.approver)
    response = _approve(client, _link(pending, world.approver))
    assert response.status_code == 302 and response["Location"] == reverse("approval_list")
    pending.refresh_from_db()
    assert pending.state == StageState.APPROVED
    assert pending.decision.justification == "Known partner"
    assert pending.request.stages.get(order=2).state == StageState.IN_PROGRESS


def test_a_required_justification_is_asked_for_beside_the_field(as_user, world, pending):
    pending.is_approver_justification_required = True
    pending.save(update_fields=["is_approver_justification_required"])
    client = as_user(world.approver)
    before = snapshot()
    response = _approve(client, _link(pending, world.approver), justification="  ")
    assert response.status_code == 400
    assert "A justification is required" in response.content.decode()
    assert snapshot() == before


# Refused links: each says what happened, and nothing changes.


def test_an_altered_link_is_refused(as_user, world, pending):
    client = as_user(world.approver)
    token = approval_link_token(pending, world.approver.pk)
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    before = snapshot()
    for url in (reverse("approval_link", args=[altered]),
                reverse("approval_link", args=["not-a-link"])):
        assert client.get(url).status_code == 400
        response = _approve(client, url)
        assert response.status_code == 400
        assert "This link does not work" in response.content.decode()
    assert snapshot() == before


def test_a_link_signed_for_another_purpose_or_naming_another_request_is_refused(
        as_user, world, pending):
    client = as_user(world.approver)
    payload = {"r": pending.request_id, "s": pending.pk, "a": world.approver.pk,
               "e": int(pending.due_at.timestamp())}
    other_salt = signing.Signer(salt="governance.other").sign_object(payload, compress=True)
    wrong_request = signing.Signer(salt=SALT).sign_object({**payload, "r": 999}, compress=True)
    before = snapshot()
    for token in (other_salt, wrong_request):
        response = _approve(client, reverse("approval_link", args=[token]))
        assert response.status_code == 400, token
    assert snapshot() == before


def test_an_expired_link_is_refused_before_and_after_the_deadline_sweep(as_user, world, pending):
    client = as_user(world.approver)
    url = _link(pending, world.approver)
    with time_machine.travel(pending.due_at + timedelta(minutes=1), tick=False):
        before = snapshot()
        # The sweep has not run yet: the link has expired all the same.
        response = _approve(client, url)
        assert response.status_code == 410
        assert "This link has expired" in response.content.decode()
        assert snapshot() == before
        stages_time_out_due()
        response = client.get(url)
        assert response.status_code == 410
        assert "This link has expired" in response.content.decode()
    pending.refresh_from_db()
    assert pending.state == StageState.TIMED_OUT
    assert not ApprovalDecision.objects.exists()


def test_a_reused_link_says_it_was_already_decided(as_user, world, pending):
    client = as_user(world.approver)
    url = _link(pending, world.approver)
    _approve(client, url)
    before = snapshot()
    response = client.get(url)
    assert response.status_code == 409
    page = response.content.decode()
    assert "This request was already decided" in page
    assert "approved by" in page
    assert _approve(client, url, justification="again").status_code == 409
    response = client.post(url, {"deny": "1", "justification": "changed my mind"})
    assert response.status_code == 409
    assert snapshot() == before
    assert ApprovalDecision.objects.get().result == Decision.APPROVE


def test_a_link_decided_by_another_approver_says_so(as_user, world):
    colleague = UserFactory(email="colleague@access.example")
    pending = submit_request(world).stages.get(order=1)
    pending.stage_approvers.create(user=colleague, kind="primary")
    stage_decide(stage_id=pending.pk, approver=colleague, decision=Decision.DENY)
    response = as_user(world.approver).get(_link(pending, world.approver))
    assert response.status_code == 409
    assert "denied by" in response.content.decode()
    pending.request.refresh_from_db()
    assert pending.request.state == RequestState.DENIED


def test_a_forwarded_link_is_refused_to_anyone_else_even_another_approver(
        as_user, world, pending):
    url = _link(pending, world.approver)
    before = snapshot()
    for other in (world.second_approver, world.owner, world.requester):
        client = as_user(other)
        for response in (client.get(url), _approve(client, url)):
            assert response.status_code == 403
            page = response.content.decode()
            assert "This link was sent to someone else" in page
            assert "Joining the Falcon project" not in page
            assert "Falcon collaboration" not in page
    assert snapshot() == before


def test_the_link_page_reads_a_fixed_number_of_queries(as_user, world, pending,
                                                       django_assert_num_queries):
    client = as_user(world.approver)
    url = _link(pending, world.approver)
    client.get(url)
    # session and user, stage with request, approver row, answers with questions, approver
    # rows for the decision form, and the nav's pending-approvals count.
    with django_assert_num_queries(6):
        assert client.get(url).status_code == 200
