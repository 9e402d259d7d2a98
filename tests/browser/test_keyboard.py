"""The request flow works with the keyboard alone: every field and button is reachable with Tab,
and Enter submits."""

import re

from playwright.sync_api import expect

from governance.models import AssignmentRequest
from tests.browser.helpers import FACTORY_PASSWORD, PASSWORD_LABEL, screenshot, verified
from tests.factories import build_world, open_package


def _tab_to(page, locator, *, presses: int = 40) -> None:
    for _ in range(presses):
        page.keyboard.press("Tab")
        if locator.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{locator} cannot be reached with Tab")


def test_sign_in_and_request_with_the_keyboard_alone(portal, page):
    world = build_world()
    member = verified(world.member)
    package, _ = open_package(world)

    page.goto("/accounts/login/")
    _tab_to(page, page.get_by_label("Email"))
    page.keyboard.type(member.email)
    _tab_to(page, page.get_by_label(PASSWORD_LABEL))
    page.keyboard.type(FACTORY_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()

    page.goto(f"/access-packages/{package.pk}/")
    _tab_to(page, page.get_by_label("Justification"))
    page.keyboard.type("Typed without a mouse.")
    submit = page.get_by_role("button", name="Submit")
    _tab_to(page, submit)
    screenshot(page, "keyboard-01-submit-focused")
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/requests/$"))
    expect(page.get_by_role("status")).to_contain_text("Falcon wiki")
    screenshot(page, "keyboard-02-submitted")
    request = AssignmentRequest.objects.get(target=member)
    assert request.justification == "Typed without a mouse."
