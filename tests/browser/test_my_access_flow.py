"""A partner's access from sign-up to removal, in Chromium, as it happens in production: the
web server, a Celery worker on Redis, and the emails through an SMTP server on loopback."""

import re

from playwright.sync_api import expect

from governance.choices import AccountState, AssignmentState, RequestState, RequestType
from governance.models import Assignment, AssignmentRequest, GroupMembership, User
from tests.browser.helpers import (
    PASSWORD,
    PASSWORD_LABEL,
    build_falcon,
    reload_until,
    screenshot,
    sign_in_with_code,
)
from tests.conftest import wait_for

ANA = "ana.diaz@contoso.example"


def _memberships(user) -> set[str]:
    return set(GroupMembership.objects.filter(user=user)
               .values_list("group__display_name", flat=True))


def test_partner_signs_up_requests_is_approved_extends_and_removes(portal, page, new_context,
                                                                   smtp_server):
    falcon = build_falcon()

    # Sign up with the address of a connected organisation; confirm it with the emailed code.
    page.goto("/accounts/signup/")
    page.get_by_label("Your name").fill("Ana Díaz")
    page.get_by_label("Email").fill(ANA)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    screenshot(page, "flow-01-sign-up")
    page.get_by_role("button", name=re.compile("sign up|create account", re.IGNORECASE)).click()

    code = smtp_server.latest_code(ANA)
    page.get_by_label("Code").fill(code)
    screenshot(page, "flow-02-confirm-code")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    screenshot(page, "flow-03-overview-new-partner")
    ana = User.objects.get(email=ANA)
    assert ana.connected_organization == falcon.organization

    # Find the package, and request it with a justification and an answer.
    page.get_by_role("navigation", name="Main").get_by_role("link",
                                                            name="Access packages").click()
    expect(page.get_by_role("heading", name="Access packages", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Partner newsletter")).to_be_visible()
    screenshot(page, "flow-04a-access-packages")
    # Search as you type (htmx): the list narrows without pressing Search.
    page.get_by_label("Search").press_sequentially("Falcon")
    expect(page.get_by_role("link", name="Partner newsletter")).to_have_count(0)
    expect(page.get_by_role("link", name="Falcon collaboration")).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=Falcon"))
    screenshot(page, "flow-04b-access-packages-search")
    page.get_by_role("link", name="Falcon collaboration").click()

    expect(page.get_by_role("heading", name="Falcon collaboration", level=1)).to_be_visible()
    expect(page.get_by_text("Member of Project Falcon")).to_be_visible()
    page.get_by_label("Justification").fill("I run the Falcon integration for Contoso.")
    page.get_by_label("Which project code?").fill("FAL-2026")
    screenshot(page, "flow-05-request-form")
    page.get_by_role("button", name="Submit").click()

    expect(page).to_have_url(re.compile(r"/requests/$"))
    expect(page.get_by_role("heading", name="Request history", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Falcon collaboration")
    history = page.locator("main")
    expect(history.get_by_text("Pending approval", exact=True)).to_be_visible()
    expect(history).to_contain_text("Stage 1 of 1")
    expect(page.get_by_role("button", name="Cancel request")).to_be_visible()
    screenshot(page, "flow-06-request-history-pending")

    # The worker emails the approver through the outbox; the approver signs in with a code
    # emailed to them, and approves.
    smtp_server.wait_for(falcon.approver.email, subject="Approval needed")
    approver_page = new_context().new_page()
    sign_in_with_code(approver_page, falcon.approver.email, smtp_server, shot="flow-07-sign-in")
    expect(approver_page.get_by_role("region", name="Approvals")).to_contain_text(
        "Falcon collaboration")
    screenshot(approver_page, "flow-08-overview-approver")
    approver_page.get_by_role("navigation", name="Main").get_by_role("link",
                                                                     name="Approvals").click()
    expect(approver_page.get_by_role("heading", name="Approvals", level=1)).to_be_visible()
    screenshot(approver_page, "flow-08b-approvals-pending")
    approver_page.get_by_role("link", name=re.compile("Falcon collaboration")).click()
    details = approver_page.locator("main")
    for shown in (ANA, "Contoso", "I run the Falcon integration for Contoso.",
                  "Which project code?", "FAL-2026"):
        expect(details).to_contain_text(shown)
    approver_page.get_by_label("Justification").fill("Known partner, Falcon team.")
    screenshot(approver_page, "flow-09-approval-detail")
    approver_page.get_by_role("button", name="Approve").click()
    expect(approver_page.get_by_role("status")).to_contain_text("You approved")
    expect(approver_page.get_by_text("Nothing waits for your approval.")).to_be_visible()
    screenshot(approver_page, "flow-10-approvals-done")
    approver_page.get_by_role("link", name="History", exact=True).click()
    expect(approver_page.locator("main")).to_contain_text("Approve")
    screenshot(approver_page, "flow-11-approvals-history")

    # The worker delivers: Ana finds the package Delivered under Active.
    page.goto("/access-packages/?tab=active")
    active = page.locator("main")
    reload_until(page, active.get_by_text("Delivered", exact=True))
    expect(active).to_contain_text("Falcon collaboration")
    expect(active).to_contain_text("Expires")
    screenshot(page, "flow-12-active-delivered")
    assert _memberships(ana) == {"Project Falcon", "Falcon Reports"}
    smtp_server.wait_for(ANA, subject="Access delivered")
    page.goto("/requests/")
    expect(page.locator("main").get_by_text("Delivered", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Cancel request")).to_have_count(0)
    screenshot(page, "flow-13-request-history-delivered")

    # Extend it.
    assignment = Assignment.objects.get(target=ana)
    page.goto("/access-packages/?tab=active")
    page.get_by_role("link", name="Extend").click()
    expect(page).to_have_url(re.compile(rf"/access/{assignment.pk}/extend/$"))
    page.get_by_label("Justification").fill("The integration runs another month.")
    page.get_by_label("Which project code?").fill("FAL-2026")
    screenshot(page, "flow-14-extend")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status")).to_contain_text("extended")
    screenshot(page, "flow-15-extended")
    extension = wait_for(lambda: AssignmentRequest.objects.filter(
        assignment=assignment, request_type=RequestType.USER_UPDATE,
        state=RequestState.DELIVERED).first(), what="the extension")
    assert extension.justification == "The integration runs another month."
    extended = Assignment.objects.get(pk=assignment.pk)
    assert extended.expires_at > assignment.expires_at

    # Remove it: GET asks, POST removes.
    page.get_by_role("link", name="Remove access").click()
    expect(page).to_have_url(re.compile(rf"/access/{assignment.pk}/remove/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Remove access")
    screenshot(page, "flow-16-remove-confirm")
    assert Assignment.objects.get(pk=assignment.pk).state == AssignmentState.DELIVERED
    page.get_by_role("button", name="Remove access").click()
    expect(page.get_by_role("status")).to_contain_text("removed")
    wait_for(lambda: not _memberships(ana), what="the memberships to be revoked")
    assert Assignment.objects.get(pk=assignment.pk).state == AssignmentState.EXPIRED

    # Her last access ended, so the guest is blocked (the organisation's lifecycle): she is
    # signed out, and signing in again is refused with the reason.
    expect(page.get_by_role("heading", name="Sign in", level=1)).to_be_visible()
    screenshot(page, "flow-17-removed-signed-out")
    ana.refresh_from_db()
    assert ana.account_state == AccountState.BLOCKED
    page.get_by_label("Email").fill(ANA)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("main")).to_contain_text("Sign-in is blocked because your last access "
                                                 "package ended")
    screenshot(page, "flow-18-sign-in-blocked")
