""""Which policy, and why not?" in Chromium: a catalog owner asks why a person of Finance
does not hold the Sales workspace, and the page names the rule's attribute that failed,
beside the package's request policy and its reason."""

from playwright.sync_api import expect

from governance.choices import AllowedTargetScope, CatalogRole
from governance.models import CatalogRoleAssignment
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec
from tests.browser.helpers import screenshot, sign_in, verified
from tests.factories import CatalogFactory, PackageFactory, PolicyFactory, UserFactory


def test_an_owner_sees_which_attribute_keeps_a_person_out(portal, page):
    catalog = CatalogFactory(display_name="Sales")
    owner = verified(UserFactory(email="owner@access.example", display_name="Olive Owner",
                                 totp=True))
    CatalogRoleAssignment.objects.create(catalog=catalog, user=owner, role=CatalogRole.OWNER)
    package = PackageFactory(catalog=catalog, display_name="Sales workspace")
    PolicyFactory(access_package=package, display_name="Sales managers ask",
                  allowed_target_scope=AllowedTargetScope.SPECIFIC_DIRECTORY_USERS)
    policy_save(actor=owner, access_package_id=package.pk, spec=PolicySpec(
        display_name="Everyone in Sales", is_automatic=True,
        membership_rule='user.department -eq "Sales" -and user.employeeType -ne "Intern"'))
    person = UserFactory(email="finn@access.example", display_name="Finn Fischer",
                         department="Finance", employee_type="Employee")

    sign_in(page, owner.email)
    page.goto(f"/admin/why-not/?person={person.pk}&package={package.pk}")
    verdict = page.locator("#why-not-verdict")
    expect(verdict).to_have_text("Finn Fischer cannot request “Sales workspace” now.")
    automatic = page.locator(".policy-row", has_text="Everyone in Sales")
    expect(automatic).to_contain_text('user.department is “Finance”; the rule asks -eq "Sales" '
                                      "(column 1)")
    # The employeeType part matched: only the rule itself names it, not the reasons.
    expect(automatic.locator("td ul")).not_to_contain_text("employeeType")
    expect(page.locator(".policy-row", has_text="Sales managers ask")).to_contain_text(
        "not one of them")
    screenshot(page, "why-01-rule-not-matched")
