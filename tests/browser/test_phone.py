"""On a phone's screen, every page fits its width: nothing to scroll sideways."""

import pytest
from playwright.sync_api import expect

from governance.services.requests import request_submit
from tests.browser.helpers import screenshot, sign_in, verified
from tests.factories import add_stage, build_world, delivered_assignment, open_package

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def _fits(page, name: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, name)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the phone's screen"


@pytest.mark.browser_context_args(**PHONE)
def test_pages_fit_a_phone(portal, page, new_context):
    world = build_world()
    for person in (world.requester, world.approver):
        verified(person)
    assignment = delivered_assignment(world)
    package, policy = open_package(world)
    add_stage(policy, world.approver)
    pending = request_submit(requestor=world.member, access_package_id=package.pk,
                             justification="To read the Falcon wiki on the go.")

    sign_in(page, world.requester.email, shot="phone-01-sign-in")
    for path, name in [
        ("/", "phone-02-overview"),
        ("/access-packages/", "phone-03-access-packages"),
        ("/access-packages/?tab=active", "phone-04-active"),
        (f"/access-packages/{package.pk}/", "phone-05-request-form"),
        ("/requests/", "phone-06-request-history"),
        (f"/access/{assignment.pk}/extend/", "phone-07-extend"),
        (f"/access/{assignment.pk}/remove/", "phone-08-remove"),
        ("/team/", "phone-09-manage-team"),
    ]:
        assert page.goto(path).status == 200, path
        _fits(page, name)

    approver_page = new_context().new_page()
    sign_in(approver_page, world.approver.email)
    for path, name in [
        ("/approvals/", "phone-10-approvals"),
        (f"/approvals/{pending.stages.get().pk}/", "phone-11-approval"),
        ("/approvals/?tab=history", "phone-12-approvals-history"),
    ]:
        assert approver_page.goto(path).status == 200, path
        _fits(approver_page, name)
