"""An access review in Chromium, as it happens in production: the review starts, the Celery
worker sends the "review started" email through the SMTP server, and the reviewer, signed
out, opens its link, signs in, lands on the review and records decisions: one Deny and one
Approve with their justifications, then the recommendations of the rest at once."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

from playwright.sync_api import expect

from governance import clock
from governance.choices import (
    AllowedTargetScope,
    AssignmentState,
    ReviewDecisionValue,
    ReviewerType,
    ReviewRecurrence,
)
from governance.models import Assignment, ReviewDecision
from governance.models.review_settings import Reviewer, ReviewSettings
from governance.services.review_start import review_start
from tests.browser.helpers import PASSWORD_LABEL, screenshot, verified
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    GuestFactory,
    OrganizationFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    group_role,
)

REVIEWER = "riley.reviewer@access.example"
# (name, signed in lately?): those who did are recommended Approve, the others Deny.
PEOPLE = [("Alex Ashby", True), ("Blake Brown", True), ("Casey Cole", False),
          ("Dana Diaz", False), ("Eli Evans", False)]


def _start_review():
    """Five Contoso guests hold Falcon collaboration; its policy is reviewed quarterly by
    Riley, with a justification for every decision. The review starts now."""
    now = clock.now()
    reviewer = verified(UserFactory(email=REVIEWER, display_name="Riley Reviewer"))
    organization = OrganizationFactory(display_name="Contoso", domain="contoso.example")
    package = PackageFactory(catalog=CatalogFactory(display_name="Projects"),
                             display_name="Falcon collaboration")
    group_role(package, GroupFactory(display_name="Project Falcon"))
    settings = ReviewSettings(
        is_enabled=True, recurrence=ReviewRecurrence.QUARTERLY, start_at=now,
        duration=timedelta(days=14), is_justification_required=True,
        primary=(Reviewer(ReviewerType.SINGLE_USER, user_id=reviewer.pk),))
    policy = PolicyFactory(access_package=package, display_name="Contoso partners",
                           allowed_target_scope=AllowedTargetScope.ALL_EXTERNAL_USERS,
                           review_settings=settings.to_graph())
    people = {}
    for name, recent in PEOPLE:
        email = name.lower().replace(" ", ".") + "@contoso.example"
        person = GuestFactory(email=email, display_name=name,
                              connected_organization=organization,
                              last_login=now - timedelta(days=2) if recent else None)
        Assignment.objects.create(access_package=package, policy=policy, target=person,
                                  state=AssignmentState.DELIVERED, start_at=now,
                                  created_at=now)
        people[name] = person
    review = review_start(policy_id=policy.pk, start_at=now)
    return reviewer, review, people


def _person(page, name: str):
    return page.get_by_role("article", name=name)


def test_reviewer_opens_the_emailed_link_and_records_decisions(portal, page, smtp_server):
    reviewer, review, people = _start_review()

    # The worker sends the outbox: the email's link names the review (its host is SITE_URL).
    email = smtp_server.wait_for(REVIEWER, subject="Access review")
    assert "Falcon collaboration" in email.subject
    path = urlsplit(email.links("/reviews/")[0]).path
    assert path == f"/reviews/{review.pk}/"

    # Signed out, the link asks to sign in, then comes back to the review.
    page.goto(path)
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_label("Email").fill(REVIEWER)
    page.get_by_label(PASSWORD_LABEL).fill("pw-for-tests-1")
    screenshot(page, "review-01-sign-in")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    expect(page.get_by_role("heading", name="Access review: Falcon collaboration",
                            level=1)).to_be_visible()
    for name, recent in PEOPLE:
        person = _person(page, name)
        expect(person).to_contain_text(people[name].email)
        expect(person).to_contain_text("Contoso")
        expect(person).to_contain_text("Recommended: Approve — Signed in within the last 30 days"
                                       if recent else
                                       "Recommended: Deny — Has not signed in for 30 days")
    screenshot(page, "review-02-review")

    # Blake was recommended Approve, but left the project: Deny, with a justification.
    blake = _person(page, "Blake Brown")
    blake.get_by_label("Deny").check()
    blake.get_by_label("Justification").fill("Left the Falcon project in March.")
    blake.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status")).to_contain_text("You chose Deny for Blake Brown.")
    expect(_person(page, "Blake Brown")).to_contain_text(
        "Decision: Deny by Riley Reviewer")

    # Casey has not signed in lately, yet still needs the access; a justification is asked.
    casey = _person(page, "Casey Cole")
    casey.get_by_label("Approve").check()
    casey.get_by_role("button", name="Submit").click()
    casey = _person(page, "Casey Cole")
    expect(casey.get_by_text("This review asks for a justification with every decision.")) \
        .to_be_visible()
    expect(casey.get_by_label("Approve")).to_be_checked()
    screenshot(page, "review-03-justification-required")
    casey.get_by_label("Justification").fill("On parental leave; back in June.")
    casey.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status")).to_contain_text("You chose Approve for Casey Cole.")

    # The rest at once: their recommendations.
    for name in ("Alex Ashby", "Dana Diaz", "Eli Evans"):
        _person(page, name).get_by_label(
            f"Include {name} in Accept recommendations").check()
    page.get_by_role("button", name="Accept recommendations", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(
        "You accepted the recommendations for 3 people.")
    expect(_person(page, "Dana Diaz")).to_contain_text(
        "Decision: Deny by Riley Reviewer")
    screenshot(page, "review-04-decisions")

    decided = {row.principal.display_name: (row.decision, row.justification, row.reviewed_by)
               for row in ReviewDecision.objects.filter(review=review)
               .select_related("principal", "reviewed_by")}
    approve, deny = ReviewDecisionValue.APPROVE, ReviewDecisionValue.DENY
    assert decided == {
        "Alex Ashby": (approve, "Accepted the recommendation: Signed in within the last 30 "
                                "days", reviewer),
        "Blake Brown": (deny, "Left the Falcon project in March.", reviewer),
        "Casey Cole": (approve, "On parental leave; back in June.", reviewer),
        "Dana Diaz": (deny, "Accepted the recommendation: Has not signed in for 30 days",
                      reviewer),
        "Eli Evans": (deny, "Accepted the recommendation: Has not signed in for 30 days",
                      reviewer),
    }

    # Nothing left to review; the decisions can still change until the review ends.
    page.get_by_role("navigation", name="Main").get_by_role("link",
                                                            name="Access reviews").click()
    expect(page.get_by_role("main")).to_contain_text("0 of 5 to review")
    screenshot(page, "review-05-list")
