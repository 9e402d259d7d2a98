"""The Content-Security-Policy in Chromium: pages, htmx and the admin work under it, and
nothing the portal serves is blocked (every violation is reported to the page)."""

import re

from playwright.sync_api import expect

from tests.browser.helpers import build_falcon, sign_in, verified
from tests.factories import GuestFactory

# Collects the browser's own reports of blocked scripts, styles, frames and connections.
LISTEN_FOR_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.__violations.push(event.violatedDirective + " " + event.blockedURI));
"""


def violations(page) -> list[str]:
    return page.evaluate("window.__violations || []")


def test_htmx_search_works_under_the_policy_and_nothing_is_blocked(page, live_server):
    falcon = build_falcon()
    verified(GuestFactory(email="kim@contoso.example", display_name="Kim Contoso",
                          connected_organization=falcon.organization))
    page.add_init_script(LISTEN_FOR_VIOLATIONS)
    answers = []
    page.on("response", lambda response: answers.append(response))
    sign_in(page, "kim@contoso.example")
    page.goto("/access-packages/")
    expect(page.get_by_role("link", name="Partner newsletter")).to_be_visible()
    policy = next(r for r in answers if r.url.endswith("/access-packages/")).headers[
        "content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy

    page.get_by_label("Search").press_sequentially("Falcon")
    expect(page.get_by_role("link", name="Partner newsletter")).to_have_count(0)
    expect(page.get_by_role("link", name="Falcon collaboration")).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=Falcon"))
    assert any(r.request.headers.get("hx-request") == "true" for r in answers), \
        "the search was not made by htmx"
    # The time-zone script (a static file now, not inline) still ran.
    assert any(cookie["name"] == "tz" for cookie in page.context.cookies())
    assert violations(page) == []
