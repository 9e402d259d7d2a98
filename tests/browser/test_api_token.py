"""A person makes their own API token on their Profile page, a script uses it against the API,
and once revoked it no longer works; the API's docs page reads in the same browser.

The person is a catalog owner: they sign in with their authenticator app's code, and confirm
their password again before the token is made."""

from playwright.sync_api import expect

from tests.browser.helpers import (
    FACTORY_PASSWORD,
    PASSWORD_LABEL,
    screenshot,
    sign_in,
    verified,
)
from tests.factories import build_world

ME = "/v1.0/me"


def test_a_person_creates_uses_and_revokes_their_own_token(portal, page):
    world = build_world()
    owner = verified(world.owner)
    sign_in(page, owner.email)

    page.get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", name="Profile", level=1)).to_be_visible()
    page.get_by_label("Token name").fill("Weekly report")
    expect(page.get_by_label("Expires after (days)")).to_have_value("90")
    page.get_by_label("Expires after (days)").fill("60")
    page.get_by_role("button", name="Create token").click()

    # allauth asks for the password again, then brings the person back to the form as left.
    expect(page.get_by_text("To create an API token, confirm it is you first.")).to_be_visible()
    expect(page.get_by_role("link", name="Use authenticator app or code")).to_be_visible()
    page.get_by_label(PASSWORD_LABEL).fill(FACTORY_PASSWORD)
    screenshot(page, "api-00-confirm-password")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Create a token")).to_be_visible()
    expect(page.get_by_label("Token name")).to_have_value("Weekly report")
    expect(page.get_by_label("Expires after (days)")).to_have_value("60")
    assert not owner.api_tokens.exists()
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("Token", exact=True).input_value()
    assert token.startswith("pat_")
    expect(page.get_by_text("it will not be shown again")).to_be_visible()
    screenshot(page, "api-01-token-created")

    # The script: a plain HTTP client with the token, no session cookie.
    script = page.context.request
    answer = script.get(ME, headers={"Authorization": f"Bearer {token}", "Cookie": ""})
    assert answer.status == 200, answer.text()
    assert answer.json()["mail"] == owner.email
    catalogs = script.get("/v1.0/identityGovernance/entitlementManagement/catalogs",
                          headers={"Authorization": f"Bearer {token}"}).json()
    assert [c["displayName"] for c in catalogs["value"]] == ["Projects"]

    # Reloaded, the page never shows the token again; revoking it ends it at once.
    page.goto("/profile/")
    expect(page.get_by_label("Token", exact=True)).to_have_count(0)
    assert token not in page.content()
    page.get_by_role("button", name="Revoke the token Weekly report").click()
    expect(page.get_by_role("cell", name="Revoked")).to_be_visible()
    refused = script.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert refused.status == 401 and refused.json()["error"]["message"]

    page.goto("/api/docs/")
    expect(page.get_by_text("/v1.0/identityGovernance/entitlementManagement/catalogs")
           .first).to_be_visible()
    # Its first screen only: the whole page lists every endpoint (thousands of pixels).
    screenshot(page, "api-02-docs", full_page=False)
