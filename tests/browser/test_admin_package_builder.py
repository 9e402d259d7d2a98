"""The package builder in Chromium: a catalog owner offers a group of theirs, builds a package
with a two-stage policy and a question entirely in the admin (one refused save on the way),
and an external user of the connected organisation then requests it in My Access."""

import re

from playwright.sync_api import expect

from governance.choices import (
    AllowedTargetScope,
    ApproverKind,
    CatalogRole,
    ExpirationType,
    GroupMembershipRole,
    RequestState,
    StageState,
)
from governance.models import (
    AccessPackage,
    AssignmentPolicy,
    AssignmentRequest,
    CatalogRoleAssignment,
    GroupMembership,
)
from tests.browser.helpers import screenshot, sign_in, verified
from tests.config_helpers import config_snapshot
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    GuestFactory,
    OrganizationFactory,
    UserFactory,
)

PATTERN = r"[A-Z]{3}-\d{4}"


def pick_person(page, field: str, search: str, name: str) -> None:
    """Choose `name` in a people autocomplete (select2): open it, type, pick the option."""
    page.locator(f".field-{field} .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill(search)
    page.locator(".select2-results__option", has_text=name).click()
    expect(page.locator(f".field-{field} .select2-selection__choice")).to_contain_text(name)


def stage_approvers(policy, order: int, kind: str) -> set[str]:
    return set(policy.stages.get(order=order).approver_sets.filter(kind=kind).values_list(
        "user__email", flat=True))


def test_a_catalog_owner_builds_a_package_in_the_admin_and_a_partner_requests_it(
        portal, page, new_context, smtp_server):
    # What exists before the story: the catalog and its owner, a group the owner owns, the
    # connected organisation, two approvers, and a partner of Contoso.
    catalog = CatalogFactory(display_name="Projects")
    owner = verified(UserFactory(email="owner@access.example", display_name="Olive Owner",
                                 totp=True))
    CatalogRoleAssignment.objects.create(catalog=catalog, user=owner, role=CatalogRole.OWNER)
    group = GroupFactory(display_name="Project Heron")
    GroupMembership.objects.create(group=group, user=owner, role=GroupMembershipRole.OWNER)
    contoso = OrganizationFactory(display_name="Contoso", domain="contoso.example")
    first = UserFactory(email="avery@access.example", display_name="Avery Approver")
    second = UserFactory(email="blake@access.example", display_name="Blake Approver")
    partner = verified(GuestFactory(email="ana.diaz@contoso.example", display_name="Ana Díaz",
                                    connected_organization=contoso))

    # The owner opens the admin and offers the group as a resource of the catalog.
    sign_in(page, owner.email)
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Catalogs, packages, assignments")).to_be_visible()
    screenshot(page, "admin-01-index")
    page.get_by_role("link", name="Resources", exact=True).click()
    page.get_by_role("link", name=re.compile(r"^Add resource")).click()
    page.get_by_label("Catalog").select_option(label="Projects")
    page.get_by_label("Group").select_option(label="Project Heron")
    screenshot(page, "admin-02-resource")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(page.locator("#result_list")).to_contain_text("Member, Owner")

    # The package: name, description, and the group's Member role.
    page.goto("/admin/")
    page.get_by_role("link", name="Access packages", exact=True).click()
    page.get_by_role("link", name=re.compile(r"^Add access package")).click()
    page.get_by_label("Catalog").select_option(label="Projects")
    page.get_by_label("Display name").fill("Heron collaboration")
    page.get_by_label("Description").fill("Shared designs and reports of Project Heron.")
    page.get_by_label("Projects › Project Heron › Member").check()
    screenshot(page, "admin-03-package-add")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(page.locator(".field-policy_list")).to_contain_text("No policy yet")
    package = AccessPackage.objects.get(display_name="Heron collaboration")
    assert list(package.resource_roles.values_list(
        "resource__display_name", "display_name")) == [("Project Heron", "Member")]

    # Its policy, for Contoso's users: two approval stages, an expiry and a question.
    page.get_by_role("link", name="Add a policy").click()
    expect(page.get_by_label("Access package")).to_have_value(str(package.pk))
    page.get_by_label("Display name").fill("Contoso partners")
    page.get_by_label("Description").fill("Partners working on Heron.")
    page.get_by_label("Users of specific connected organizations").check()
    page.locator("#id_specific_connected_organizations_from").select_option(label="Contoso")
    page.locator("#id_specific_connected_organizations_add").click()
    expect(page.locator("#id_specific_connected_organizations_to")).to_contain_text("Contoso")
    page.get_by_label("Requestors must give a justification").check()
    expect(page.get_by_label("Requests need approval")).to_be_checked()
    pick_person(page, "stage1_approvers", "Avery", "Avery Approver")
    pick_person(page, "stage2_approvers", "Blake", "Blake Approver")
    pick_person(page, "stage2_escalation_approvers", "Olive", "Olive Owner")
    page.locator("#id_stage2_escalate_after_days").fill("7")
    page.locator("#id_stage2_deadline_days").fill("7")
    page.get_by_label("After a duration").check()
    page.locator("#id_expiration_days").fill("30")
    page.get_by_role("button", name="Add another question").click()
    question = page.locator("#questions-0")
    question.get_by_label("Text").fill("Which project code?")
    question.get_by_label("Is required").check()
    question.get_by_label("Pattern").fill(PATTERN)
    screenshot(page, "admin-04-policy-add")

    # Stage 2 would escalate on the day it is denied: refused beside the field, nothing saved.
    before = config_snapshot()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errornote")).to_be_visible()
    days = page.locator("#id_stage2_escalate_after_days")
    expect(days).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_stage2_escalate_after_days_error")).to_contain_text(
        "must escalate earlier than that, not after 7")
    expect(page.locator(".fieldBox.field-stage2_escalate_after_days.errors")).to_be_visible()
    screenshot(page, "admin-05-policy-refused")
    assert config_snapshot() == before
    assert not AssignmentPolicy.objects.exists()
    # What was entered is still there: the approvers and the question.
    expect(page.locator(".field-stage1_approvers")).to_contain_text("Avery Approver")
    expect(page.locator(".field-stage2_approvers")).to_contain_text("Blake Approver")
    expect(page.locator("#questions-0").get_by_label("Pattern")).to_have_value(PATTERN)

    days.fill("3")
    page.get_by_role("button", name="Save", exact=True).click()

    # Back on the package, which lists its policy.
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(page.get_by_role("heading", name="Heron collaboration")).to_be_visible()
    expect(page.locator(".field-policy_list")).to_contain_text(
        "Contoso partners — Users of specific connected organizations, 2 approval stages")
    screenshot(page, "admin-06-package")
    page.locator(".field-policy_list").get_by_role("link", name="Contoso partners").click()
    expect(page.locator(".field-stage1_approvers")).to_contain_text("Avery Approver")
    expect(page.locator(".field-stage2_approvers")).to_contain_text("Blake Approver")
    expect(page.locator("#id_stage2_escalate_after_days")).to_have_value("3")
    expect(page.locator("#questions-0").get_by_label("Text")).to_have_value(
        "Which project code?")
    screenshot(page, "admin-07-policy")

    policy = AssignmentPolicy.objects.get(access_package=package)
    assert policy.allowed_target_scope == AllowedTargetScope.SPECIFIC_CONNECTED_ORG_USERS
    assert list(policy.specific_connected_organizations.all()) == [contoso]
    assert policy.is_requestor_justification_required and policy.is_approval_required_for_add
    assert policy.expiration_type == ExpirationType.AFTER_DURATION
    assert policy.expiration_duration.days == 30
    assert list(policy.stages.order_by("order").values_list(
        "order", "duration_before_automatic_denial_days", "duration_before_escalation_days")) \
        == [(1, 14, None), (2, 7, 3)]
    assert stage_approvers(policy, 1, ApproverKind.PRIMARY) == {first.email}
    assert stage_approvers(policy, 2, ApproverKind.PRIMARY) == {second.email}
    assert stage_approvers(policy, 2, ApproverKind.ESCALATION) == {owner.email}
    saved_question = policy.questions.get()
    assert (saved_question.text, saved_question.is_required, saved_question.regex_pattern) \
        == ("Which project code?", True, PATTERN)

    # The partner, in a browser of her own, finds the package and requests it.
    partner_page = new_context().new_page()
    sign_in(partner_page, partner.email)
    partner_page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Access packages").click()
    expect(partner_page.get_by_role("heading", name="Access packages", level=1)).to_be_visible()
    screenshot(partner_page, "admin-08-partner-access-packages")
    partner_page.get_by_role("link", name="Heron collaboration").click()
    expect(partner_page.get_by_role("heading", name="Heron collaboration",
                                     level=1)).to_be_visible()
    expect(partner_page.get_by_text("Member of Project Heron")).to_be_visible()
    partner_page.get_by_label("Justification").fill("I draw the Heron designs for Contoso.")
    partner_page.get_by_label("Which project code?").fill("HER-2026")
    screenshot(partner_page, "admin-09-partner-request")
    partner_page.get_by_role("button", name="Submit").click()

    expect(partner_page).to_have_url(re.compile(r"/requests/$"))
    expect(partner_page.get_by_role("status")).to_contain_text("Heron collaboration")
    history = partner_page.locator("main")
    expect(history.get_by_text("Pending approval", exact=True)).to_be_visible()
    expect(history).to_contain_text("Stage 1 of 2")
    screenshot(partner_page, "admin-10-partner-request-history")

    request = AssignmentRequest.objects.get(target=partner, access_package=package)
    assert (request.state, request.policy, request.justification) == (
        RequestState.PENDING_APPROVAL, policy, "I draw the Heron designs for Contoso.")
    assert list(request.answers.values_list("question__text", "value")) == [
        ("Which project code?", "HER-2026")]
    stage_one, stage_two = request.stages.order_by("order")
    assert (stage_one.state, stage_two.state) == (StageState.IN_PROGRESS,
                                                  StageState.NOT_STARTED)
    assert list(stage_one.approvers.all()) == [first]
    # The worker emails stage 1's approver, chosen in the admin.
    smtp_server.wait_for(first.email, subject="Approval needed")
