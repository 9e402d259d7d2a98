"""The rule editor in Chromium: a catalog owner adds an automatic policy to a package, types
its membership rule and watches the preview answer (a rule cut short, then whom it matches),
saves it, and the worker's run gives the package to everyone the rule matches; the policy's
page follows the run until it is done. Nothing is blocked by the Content-Security-Policy."""

from playwright.sync_api import expect

from governance.choices import ASSIGNMENT_ACTIVE, CatalogRole, GroupMembershipRole
from governance.models import (
    Assignment,
    AssignmentPolicy,
    CatalogRoleAssignment,
    GroupMembership,
)
from tests.browser.helpers import screenshot, sign_in, verified
from tests.conftest import wait_for
from tests.factories import CatalogFactory, GroupFactory, PackageFactory, UserFactory, group_role

# Collects the browser's own reports of anything the policy blocked.
LISTEN_FOR_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (event) => window.__violations.push(event.violatedDirective + " " + event.blockedURI));
"""


def test_an_owner_types_a_rule_sees_the_preview_saves_and_the_matching_people_hold_it(
        portal, page):
    catalog = CatalogFactory(display_name="Sales")
    owner = verified(UserFactory(email="owner@access.example", display_name="Olive Owner",
                                 totp=True))
    CatalogRoleAssignment.objects.create(catalog=catalog, user=owner, role=CatalogRole.OWNER)
    package = PackageFactory(catalog=catalog, display_name="Sales workspace",
                             description="The Sales team's files and dashboards.")
    team = GroupFactory(display_name="Sales team")
    group_role(package, team)
    sellers = [UserFactory(email=f"{email}@access.example", display_name=name,
                           department="Sales", job_title=title)
               for email, name, title in (("ana", "Ana Diaz", "Account executive"),
                                          ("ben", "Ben Okafor", "Sales engineer"),
                                          ("chloe", "Chloé Martin", "Intern"),
                                          ("dev", "Dev Patel", "Account executive"))]
    UserFactory(email="erin@access.example", display_name="Erin Fox", department="Finance")
    page.add_init_script(LISTEN_FOR_VIOLATIONS)

    sign_in(page, owner.email)
    page.goto(f"/admin/governance/assignmentpolicy/add/?access_package={package.pk}")
    expect(page.get_by_role("heading", name="Who can request")).to_be_visible()
    page.get_by_label("Assign automatically by a rule").check()
    # The requestor's parts go; the rule's come; access lasts while the rule matches.
    expect(page.get_by_role("heading", name="Who can request")).to_be_hidden()
    expect(page.get_by_role("heading", name="Approval stage 1")).to_be_hidden()
    expect(page.get_by_role("heading", name="Questions for the requestor")).to_be_hidden()
    expect(page.get_by_label("Never")).to_be_checked()
    expect(page.get_by_label("Grace period (days)")).to_have_value("7")
    page.get_by_label("Display name").fill("Everyone in Sales")
    page.get_by_label("What the rule says, in words").fill(
        "Everyone in Sales but the interns")

    rule = page.get_by_role("textbox", name="Membership rule")
    preview = page.locator("#rule-preview")
    expect(preview).to_contain_text('Write a rule, such as user.department -eq "Sales".')
    rule.press_sequentially('user.department -eq', delay=10)
    expect(preview).to_contain_text("The rule does not read. Column 20: the rule ends too soon")
    rule.press_sequentially(' "Sales"', delay=10)
    expect(page.locator("#rule-preview-count")).to_have_text("4 people match")
    expect(page.locator("#rule-preview-people")).to_contain_text("Chloé Martin")
    rule.press_sequentially(' -and -not (user.jobTitle -eq "Intern")', delay=10)
    expect(page.locator("#rule-preview-count")).to_have_text("3 people match")
    expect(page.locator("#rule-preview-people")).not_to_contain_text("Chloé Martin")
    expect(preview).to_contain_text("Saving the policy gives the package to 3 people.")
    show_editor(page)
    screenshot(page, "rule-01-editor-preview", full_page=False)

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    policy = AssignmentPolicy.objects.get(access_package=package)
    assert policy.is_automatic and policy.membership_rule == (
        'user.department -eq "Sales" -and -not (user.jobTitle -eq "Intern")')
    # The worker runs the rule; the page follows the run until it is done.
    runs = page.locator("#rule-runs-table tbody tr").first
    expect(runs).to_contain_text("Done", timeout=20_000)
    expect(runs.locator("td").nth(2)).to_have_text("3")   # matched
    expect(runs.locator("td").nth(3)).to_have_text("3")   # added
    screenshot(page, "rule-02-policy-runs")

    expected = {sellers[0].pk, sellers[1].pk, sellers[3].pk}
    assert set(Assignment.objects.filter(access_package=package, state__in=ASSIGNMENT_ACTIVE)
               .values_list("target_id", flat=True)) == expected
    wait_for(lambda: set(GroupMembership.objects.filter(
        group=team, role=GroupMembershipRole.MEMBER).values_list("user_id", flat=True))
        == expected, what="the worker's deliveries into the Sales team")

    # Editing the saved rule, the preview says who would gain and who would lose access.
    rule = page.get_by_role("textbox", name="Membership rule")
    rule.fill('user.department -in ["Sales", "Finance"] -and user.jobTitle -ne '
              '"Sales engineer"')
    expect(page.locator("#rule-preview-count")).to_have_text("4 people match")
    expect(page.locator("#rule-preview-gaining")).to_have_text(
        "2 people get the package: Chloé Martin, Erin Fox.")
    expect(page.locator("#rule-preview-losing")).to_have_text(
        "1 person loses the package at the end of the 7-day grace period, unless they match "
        "again: Ben Okafor.")
    show_editor(page)
    screenshot(page, "rule-03-editor-gain-and-lose", full_page=False)
    assert page.evaluate("window.__violations || []") == []


def show_editor(page) -> None:
    """The rule and its preview at the top of the screen (for the README's tour)."""
    page.locator("fieldset.automatic-only").evaluate(
        "part => window.scrollTo(0, part.getBoundingClientRect().top + window.scrollY - 16)")
