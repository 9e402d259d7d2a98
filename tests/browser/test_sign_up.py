"""Sign-up is open to the domains of connected organisations, and refused to anyone else."""

import re

from playwright.sync_api import expect

from governance.models import User
from governance.selectors.directory import SIGN_UP_REFUSED
from tests.browser.helpers import PASSWORD, PASSWORD_LABEL, build_falcon, screenshot


def test_address_of_an_unknown_domain_is_refused_sign_up(portal, page, smtp_server):
    build_falcon()  # Contoso is connected; no policy is open to all external users
    stranger = "sam@unknown.example"

    page.goto("/accounts/login/")
    screenshot(page, "refused-01-sign-in")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill(stranger)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    screenshot(page, "refused-01b-sign-up")
    page.get_by_role("button", name="Create account").click()

    # Refused beside the email field, with what was typed kept; no account, no email.
    email_field = page.get_by_label("Email")
    expect(email_field).to_have_value(stranger)
    expect(page.locator("main")).to_contain_text(SIGN_UP_REFUSED)
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    screenshot(page, "refused-02-sign-up-refused")
    assert not User.objects.filter(email__iexact=stranger).exists()
    assert not smtp_server.to(stranger)
