"""Single sign-on in Chromium: a member the identity provider provisioned clicks the button,
signs in on the provider's page (the real oidc-provider-mock on loopback) and lands on My
Access, signed in as themselves, with no sign-up step."""

import re

import pytest
from playwright.sync_api import expect

from governance.services.people import person_create
from tests.browser.helpers import screenshot
from tests.factories import UserFactory
from tests.oidc_provider import PROVIDER_ID


@pytest.fixture(scope="module")
def provider(oidc_provider):
    return oidc_provider


def test_a_provisioned_member_signs_in_with_the_sso_button(page, live_server, settings,
                                                           provider):
    client = provider.register(f"{live_server.url}/accounts/oidc/{PROVIDER_ID}/login/callback/")
    settings.SOCIALACCOUNT_PROVIDERS = {**settings.SOCIALACCOUNT_PROVIDERS,
                                        **provider.apps(client, name="Contoso sign-in")}
    admin = UserFactory(email="admin@access.example", is_superuser=True)
    joiner = person_create(actor=admin, values={"email": "jo.iner@access.example",
                                                "display_name": "Jo Iner"})
    provider.person("jo-sub", email=joiner.email, email_verified=True, name="Jo Iner")

    page.goto("/accounts/login/")
    screenshot(page, "sso-01-sign-in")
    page.get_by_role("button", name="Contoso sign-in").click()

    # The provider's own page: the person says who they are there.
    expect(page).to_have_url(re.compile(rf"^{re.escape(provider.issuer)}/oauth2/authorize"))
    page.get_by_placeholder("sub").fill("jo-sub")
    page.get_by_role("button", name="Authorize").click()

    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("header .account")).to_contain_text("Jo Iner")
    screenshot(page, "sso-02-signed-in")
    assert joiner.socialaccount_set.get().uid == "jo-sub"
