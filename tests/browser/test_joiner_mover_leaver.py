"""Joiner, mover and leaver, driven by an identity provider, end to end.

scim2-client pushes a member and their manager into the portal over SCIM (the live server);
the member signs in by single sign-on in Chromium (the real oidc-provider-mock) with no
sign-up step and requests a package that needs their manager's approval. The identity
provider moves them to another manager: the pending stage moves too, and the new manager
approves. The real Celery worker delivers the package into the portal's own group and a
group of a real scim2-server. Then the identity provider deactivates them: the worker takes
the SCIM membership away again, their API token gets 401, and single sign-on refuses them
with the reason.
"""

import re
from datetime import timedelta

import httpx2
import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Email, EnterpriseUser, Manager, Name, PatchOp, PatchOperation, User

from governance.choices import AllowedTargetScope, AssignmentState, SystemKind
from governance.models import Assignment, AssignmentRequest, GroupMembership, ResourceRole
from governance.models import User as Person
from governance.services.api_tokens import personal_token_create
from governance.services.approvals import stage_decide
from governance.services.packages import package_create, package_role_add
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec, StageSpec
from governance.services.provisioning_clients import provisioning_client_create
from governance.services.system_refresh import system_refresh
from governance.services.systems import system_save
from tests.browser.helpers import screenshot
from tests.conftest import wait_for
from tests.factories import CatalogFactory, GroupFactory, UserFactory, group_role
from tests.oidc_provider import PROVIDER_ID
from tests.scim_server import TOKEN

PACKAGE = "Field sales kit"
SCIM_GROUP = "Field CRM users"


@pytest.fixture(scope="module")
def provider(oidc_provider):
    return oidc_provider


@pytest.fixture
def idp(live_server):
    """scim2-client as the identity provider's provisioning service, with its own token."""
    _client, token = provisioning_client_create(actor=None, display_name="Okta", system=True)
    http = httpx2.Client(base_url=f"{live_server.url}/scim/v2",
                         headers={"Authorization": f"Bearer {token}"}, trust_env=False)
    client = SyncSCIMClient(http)
    client.discover()
    yield client
    http.close()


def scim_person(user_name: str, given: str, family: str, *, external_id: str,
                manager_id: str | None = None) -> User:
    person = User[EnterpriseUser](
        user_name=user_name, external_id=external_id, active=True,
        display_name=f"{given} {family}", name=Name(given_name=given, family_name=family),
        emails=[Email(value=user_name, primary=True, type="work")], title="Account manager")
    person[EnterpriseUser] = EnterpriseUser(
        department="Field sales",
        manager=Manager(value=manager_id, ref=f"Users/{manager_id}") if manager_id else None)
    return person


def patch(*operations) -> PatchOp:
    return PatchOp[User[EnterpriseUser]](operations=list(operations))


def offer(admin, catalog, scim_role: ResourceRole):
    """A package granting a local group and the SCIM group, for members, with one stage:
    the requestor's manager (the administrator as fallback)."""
    package = package_create(actor=admin, catalog_id=catalog.pk, display_name=PACKAGE,
                             description="The field CRM and the team's group.")
    package_role_add(actor=admin, package_id=package.pk, role_id=scim_role.pk)
    local = group_role(package, GroupFactory(display_name="Field sales team"))
    policy_save(actor=admin, access_package_id=package.pk, spec=PolicySpec(
        display_name="Members, with their manager's approval",
        allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
        is_requestor_justification_required=True, expiration_duration=timedelta(days=90),
        stages=[StageSpec(dynamic_approver="requestorManager", fallback_approvers=[admin])]))
    return package, local


def sso_sign_in(page, provider, sub: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Company sign-in").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(provider.issuer)}/oauth2/authorize"))
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()


def test_an_identity_provider_drives_joiner_mover_and_leaver(
        portal, page, settings, provider, idp, scim_server):
    client = provider.register(f"{portal.url}/accounts/oidc/{PROVIDER_ID}/login/callback/")
    settings.SOCIALACCOUNT_PROVIDERS = {**settings.SOCIALACCOUNT_PROVIDERS,
                                        **provider.apps(client, name="Company sign-in")}
    admin = UserFactory(email="ada@access.example", display_name="Ada Admin",
                        is_superuser=True)
    catalog = CatalogFactory(display_name="Sales apps")
    group_id = scim_server.create_group(SCIM_GROUP)
    system = system_save(actor=admin, display_name="Field CRM", kind=SystemKind.SCIM,
                         base_url=scim_server.base_url, secret_value=TOKEN)
    system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    package, local_role = offer(admin, catalog, ResourceRole.objects.get(
        resource__system=system, resource__origin_id=group_id))

    # Joiner: the identity provider pushes two managers and the member.
    mia = idp.create(scim_person("mia@access.example", "Mia", "Manager", external_id="00u-mia"))
    nina = idp.create(scim_person("nina@access.example", "Nina", "New", external_id="00u-nina"))
    max_ = idp.create(scim_person("max@access.example", "Max", "Member", external_id="00u-max",
                                  manager_id=mia.id))
    member = Person.objects.get(pk=max_.id)
    assert (member.manager_id, member.job_title, member.department) == (
        int(mia.id), "Account manager", "Field sales")

    # The member signs in by single sign-on, at once, and requests the package.
    provider.person("00u-max", email="max@access.example", email_verified=True,
                    name="Max Member")
    sso_sign_in(page, provider, "00u-max")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    expect(page.locator("header .account")).to_contain_text("Max Member")
    page.get_by_role("navigation", name="Main").get_by_role("link",
                                                            name="Access packages").click()
    page.get_by_role("link", name=PACKAGE).click()
    page.get_by_label("Justification").fill("I join the field sales team.")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="Request history", level=1)).to_be_visible()
    screenshot(page, "jml-01-requested")
    stage = AssignmentRequest.objects.get(target=member).stages.get()
    assert list(stage.approvers.values_list("email", flat=True)) == ["mia@access.example"]

    # Mover: a new manager; the pending stage moves to her, and she approves.
    idp.modify(User[EnterpriseUser], max_.id, patch(PatchOperation(
        op="replace", path=f"{EnterpriseUser.__schema__}:manager",
        value={"value": nina.id, "$ref": f"Users/{nina.id}"})))
    assert list(stage.approvers.values_list("email", flat=True)) == ["nina@access.example"]
    stage_decide(stage_id=stage.pk, approver=Person.objects.get(pk=nina.id),
                 decision="Approve")
    assignment = wait_for(lambda: Assignment.objects.filter(
        target=member, state=AssignmentState.DELIVERED).first(), what="the delivery")
    scim_account = wait_for(lambda: next((u["id"] for u in scim_server.users(
        userName=member.email)), None), what="the member's account in the SCIM application")
    assert scim_server.members(group_id) == [scim_account]
    assert GroupMembership.objects.filter(user=member, group_id=local_role.resource.origin_id
                                          ).exists()
    _token, raw = personal_token_create(user=member, name="scripts")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/v1.0/users").status_code in (200, 403)  # authenticated

    # Leaver: deactivated as Entra does it. Access goes, in the SCIM application too.
    idp.modify(User[EnterpriseUser], max_.id, patch(PatchOperation(
        op="replace", path="active", value=False)))
    member.refresh_from_db()
    assert not member.is_active
    assignment.refresh_from_db()
    assert (assignment.state, assignment.end_reason) == (AssignmentState.EXPIRED,
                                                         "userDeactivated")
    assert not GroupMembership.objects.filter(user=member).exists()
    wait_for(lambda: scim_server.members(group_id) == [], what="the SCIM membership removed")
    assert api.get("/v1.0/users").status_code == 401
    page.goto("/requests/")  # the session they had is over
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.context.clear_cookies()
    sso_sign_in(page, provider, "00u-max")
    expect(page.locator("main")).to_contain_text("Your account has been deactivated")
    screenshot(page, "jml-02-leaver-refused")
