"""The personal link in an approval email, in Chromium: signed out, the approver signs in with
an emailed code, comes back to the link, and decides; opening a link never changes anything."""

import re
import urllib.request
from urllib.parse import urlsplit

from playwright.sync_api import expect

from governance.choices import Decision, RequestState, StageState
from governance.models import ApprovalDecision, AssignmentRequest, AuditEvent
from tests.browser.helpers import screenshot, sign_in, verified
from tests.factories import build_world, snapshot, submit_request

LINK_PATH = "/approvals/link/"


def _link_path(mailbox, address: str, after: int = 0) -> str:
    """The path of the personal link in the latest "Approval needed" email to `address`
    (the email's host is SITE_URL, not this test's live server)."""
    link = mailbox.latest_link(address, LINK_PATH, subject="Approval needed", after=after)
    return urlsplit(link).path


def _facts(request) -> dict:
    """What a GET of a link must leave alone: the rows of this request, and the audit log."""
    return {
        "everything": snapshot(),
        "request": AssignmentRequest.objects.filter(pk=request.pk).values().get(),
        "stages": list(request.stages.order_by("order").values(
            "id", "state", "started_at", "completed_at", "due_at", "next_reminder_at")),
        "decisions": list(ApprovalDecision.objects.filter(stage__request=request).values()),
        "audit": list(AuditEvent.objects.order_by("pk").values_list("pk", "action",
                                                                     "object_id")),
    }


def test_approver_signs_in_from_the_emailed_link_and_approves(portal, page, new_context,
                                                              smtp_server):
    world = build_world()
    approver = verified(world.approver)
    request = submit_request(world)

    path = _link_path(smtp_server, approver.email)
    assert path.startswith(LINK_PATH)

    # Signed out, the link asks who you are and changes nothing.
    approver_page = new_context().new_page()
    approver_page.goto(path)
    expect(approver_page.get_by_role("heading", name="A request waits for your decision",
                                     level=1)).to_be_visible()
    expect(approver_page.locator("main")).to_contain_text("a***@access.example")
    expect(approver_page.locator("main")).not_to_contain_text(world.requester.email)
    screenshot(approver_page, "link-01-email-link-signed-out")

    # Sign in with a code; the link's path rides along as ?next= through allauth's steps.
    approver_page.get_by_role("link", name="Sign in with a code").click()
    expect(approver_page.get_by_role("heading", name="Sign in with a code",
                                     level=1)).to_be_visible()
    approver_page.get_by_label("Email").fill(approver.email)
    screenshot(approver_page, "link-02a-code-request")
    already = len(smtp_server.to(approver.email))
    approver_page.get_by_role("button", name="Email me a code").click()
    approver_page.get_by_label("Code").fill(smtp_server.latest_code(approver.email,
                                                                    after=already))
    screenshot(approver_page, "link-02b-code-enter")
    approver_page.get_by_role("button", name="Confirm").click()

    # Back on the link: the same decision page as under Approvals.
    expect(approver_page).to_have_url(re.compile(re.escape(path) + "$"))
    details = approver_page.locator("main")
    expect(details.get_by_role("heading", level=1)).to_contain_text("Falcon collaboration")
    for shown in (world.requester.email, "Contoso", "Joining the Falcon project",
                  "Which project code?", "FAL-2026"):
        expect(details).to_contain_text(shown)
    approver_page.get_by_label("Justification").fill("Known partner, Falcon team.")
    screenshot(approver_page, "link-03-decide")
    second_already = len(smtp_server.to(world.second_approver.email))
    approver_page.get_by_role("button", name="Approve").click()

    expect(approver_page).to_have_url(re.compile(r"/approvals/$"))
    expect(approver_page.get_by_role("status")).to_contain_text("You approved")
    screenshot(approver_page, "link-04-approved")

    first, second = request.stages.order_by("order")
    assert (first.state, second.state) == (StageState.APPROVED, StageState.IN_PROGRESS)
    assert (first.decision.approver, first.decision.result, first.decision.justification) == (
        approver, Decision.APPROVE, "Known partner, Falcon team.")
    request.refresh_from_db()
    assert request.state == RequestState.PENDING_APPROVAL

    # Stage 2's approver gets their own link, for their own stage.
    second_path = _link_path(smtp_server, world.second_approver.email, after=second_already)
    assert second_path.startswith(LINK_PATH) and second_path != path

    # The used link now only says so.
    approver_page.goto(path)
    expect(approver_page.get_by_role("heading", name="This request was already decided",
                                     level=1)).to_be_visible()
    expect(approver_page.get_by_role("button", name="Approve")).to_have_count(0)
    screenshot(approver_page, "link-05-already-decided")


def test_opening_a_link_changes_nothing(portal, page, new_context, smtp_server):
    world = build_world()
    approver = verified(world.approver)
    request = submit_request(world)
    path = _link_path(smtp_server, approver.email)
    before = _facts(request)

    # A mail filter that fetches the link without cookies, and one that runs a browser.
    with urllib.request.urlopen(portal.url + path, timeout=10) as response:
        assert response.status == 200
        assert b"A request waits for your decision" in response.read()
    scanner = new_context().new_page()
    scanner.goto(path)
    expect(scanner.get_by_role("heading", name="A request waits for your decision",
                               level=1)).to_be_visible()
    assert _facts(request) == before

    # The approver, signed in, merely opens it: the decision page, and still nothing changed.
    sign_in(page, approver.email)
    before = _facts(request)
    page.goto(path)
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Approve")).to_be_visible()
    assert _facts(request) == before
    assert request.stages.get(order=1).state == StageState.IN_PROGRESS
