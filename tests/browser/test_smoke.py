"""The live server answers Debian's Chromium: the sign-in page opens."""

from playwright.sync_api import expect

from tests.browser.helpers import screenshot


def test_sign_in_page_opens_in_chromium(page, live_server):
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    screenshot(page, "sign-in")
