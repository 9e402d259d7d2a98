"""A person outside every policy's scope can neither see nor request a package, not even by its
direct URL: the page answers 404, like any object the person may not see."""

from playwright.sync_api import expect

from governance.models import AssignmentRequest
from tests.browser.helpers import screenshot, sign_in, verified
from tests.factories import build_world


def test_person_outside_the_scope_can_neither_see_nor_request_the_package(portal, page,
                                                                          new_context):
    world = build_world()  # "Falcon collaboration" is for Contoso; the outsider is Fabrikam's
    outsider, requester = verified(world.outsider), verified(world.requester)
    url = f"/access-packages/{world.package.pk}/"

    # In scope, the requester opens the package page: the URL is right.
    requester_page = new_context().new_page()
    sign_in(requester_page, requester.email, shot="scope-00-sign-in-requester")
    assert requester_page.goto(url).status == 200
    expect(requester_page.get_by_role("heading", name="Falcon collaboration")).to_be_visible()
    screenshot(requester_page, "scope-00-package-in-scope")

    sign_in(page, outsider.email, shot="scope-01-sign-in-outsider")
    overview = page.get_by_role("region", name="Access packages")
    expect(overview).to_contain_text("No access package is available to you.")

    page.goto("/access-packages/?tab=available&q=Falcon")
    expect(page.get_by_role("heading", name="Access packages", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Falcon collaboration")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("No access package matches “Falcon”.")
    screenshot(page, "scope-02-search-outsider")

    response = page.goto(url)
    assert response.status == 404
    expect(page.get_by_role("heading", name="Falcon collaboration")).to_have_count(0)
    expect(page.get_by_label("Justification")).to_have_count(0)
    screenshot(page, "scope-03-direct-url-404")

    # A request posted to the page straight away (as a tampered form would) is refused alike.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    posted = page.request.post(url, headers={"X-CSRFToken": csrf, "Referer": page.url},
                               form={"justification": "Let me in",
                                     f"question_{world.question.pk}": "FAL-2026"})
    assert posted.status == 404
    assert not AssignmentRequest.objects.filter(target=outsider).exists()
