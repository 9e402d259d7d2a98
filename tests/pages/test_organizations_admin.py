"""Connected organizations, tenant settings and external users in the admin: who sees and
changes what, and the forms' refusals, which are the services'."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance.choices import AccountState, GlobalRole, SubjectLifecycle
from governance.models import (
    AuditEvent,
    ConnectedOrganization,
    GlobalRoleAssignment,
    IdentitySource,
    TenantSettings,
)
from governance.services.organizations import organization_save
from tests.factories import GuestFactory, UserFactory, delivered_assignment

ORGS = "admin:governance_connectedorganization"
USERS = "admin:governance_externaluser"
SETTINGS = "admin:governance_tenantsettings"
FORM = {"display_name": "Northwind", "description": "Logistics partner",
        "domains": "northwind.example\r\nnw-traders.example", "state": "configured",
        "internal_sponsors": [], "external_sponsors": []}


@pytest.fixture
def people(world):
    org_admin = UserFactory(email="partners@access.example")
    GlobalRoleAssignment.objects.create(user=org_admin, role=GlobalRole.CONNECTED_ORG_ADMIN)
    return {"global admin": UserFactory(email="global@access.example", is_superuser=True),
            "connected organization admin": org_admin,
            "catalog owner": world.owner,
            "nobody": world.member}


def _urls(world) -> dict[str, str]:
    organization, guest = world.organization.pk, world.requester.pk
    return {
        "organizations": reverse(f"{ORGS}_changelist"),
        "organization add": reverse(f"{ORGS}_add"),
        "organization change": reverse(f"{ORGS}_change", args=[organization]),
        "organization delete": reverse(f"{ORGS}_delete", args=[organization]),
        "organization history": reverse(f"{ORGS}_history", args=[organization]),
        "tenant settings": reverse(f"{SETTINGS}_change", args=[TenantSettings.current().pk]),
        "tenant settings history": reverse(f"{SETTINGS}_history",
                                           args=[TenantSettings.current().pk]),
        "external users": reverse(f"{USERS}_changelist"),
        "external user": reverse(f"{USERS}_change", args=[guest]),
        "external user history": reverse(f"{USERS}_history", args=[guest]),
    }


# Who may open what: 200 shown, 403 refused, "login" (no admin at all).
ORGANIZATION_PAGES = {"organizations", "organization add", "organization change",
                      "organization delete", "organization history"}
SETTINGS_PAGES = {"tenant settings", "tenant settings history"}
USER_PAGES = {"external users", "external user", "external user history"}
ALLOWED = {
    "global admin": ORGANIZATION_PAGES | SETTINGS_PAGES | USER_PAGES,
    "connected organization admin": ORGANIZATION_PAGES | USER_PAGES,
    "catalog owner": set(),
}


@pytest.mark.parametrize("role", list(ALLOWED))
def test_each_role_opens_only_its_pages(world, people, as_user, role):
    client = as_user(people[role])
    for page, url in _urls(world).items():
        # The policy targeting Contoso makes its delete page redirect with the reason.
        response = client.get(url)
        if page not in ALLOWED[role]:
            # History pages answer as if the object did not exist: back to the index.
            refused = (302, reverse("admin:index")) if page.endswith("history") else (403, None)
            assert (response.status_code, response.headers.get("Location")) == refused, \
                (role, page)
        else:
            # The policy targeting Contoso makes its delete page redirect with the reason.
            expected = 302 if page == "organization delete" else 200
            assert response.status_code == expected, (role, page)


def test_people_without_a_role_have_no_admin_at_all(world, people, as_user, client):
    for who in (client, as_user(people["nobody"])):
        for page, url in _urls(world).items():
            response = who.get(url)
            assert response.status_code == 302, page
            assert response.headers["Location"].startswith(
                ("/accounts/login/", "/admin/login/")), page


@pytest.mark.parametrize("role", list(ALLOWED))
def test_the_index_lists_what_each_role_may_open(world, people, as_user, role):
    page = as_user(people[role]).get(reverse("admin:index")).content.decode()
    for name, key in (("Connected organizations", "organizations"),
                      ("External users", "external users"),
                      ("Tenant settings", "tenant settings")):
        assert (f">{name}<" in page) == (key in ALLOWED[role]), (role, name)


def test_connected_organization_admins_only_read_external_users(world, people, as_user):
    client = as_user(people["connected organization admin"])
    page = client.get(_urls(world)["external user"]).content.decode()
    assert "requester@contoso.example" in page and 'name="_save"' not in page
    before = world.requester.account_state
    response = client.post(_urls(world)["external user"], {"account_state": "blocked"})
    assert response.status_code == 403
    world.requester.refresh_from_db()
    assert world.requester.account_state == before
    assert client.get(reverse(f"{USERS}_add")).status_code == 403
    assert client.post(reverse(f"{USERS}_delete", args=[world.requester.pk]),
                       {"post": "yes"}).status_code == 403


# Organizations through the form


@pytest.mark.parametrize("role", ["global admin", "connected organization admin"])
def test_adding_an_organization_with_domains_and_sponsors(world, people, as_user, role):
    client = as_user(people[role])
    lead = GuestFactory(email="lead@northwind.example")
    response = client.post(reverse(f"{ORGS}_add"), FORM | {
        "internal_sponsors": [world.approver.pk], "external_sponsors": [lead.pk]})
    assert response.status_code == 302, response.context["adminform"].form.errors
    organization = ConnectedOrganization.objects.get(display_name="Northwind")
    assert sorted(organization.identity_sources.values_list("domain_name", flat=True)) == \
        ["northwind.example", "nw-traders.example"]
    assert list(organization.internal_sponsors.all()) == [world.approver]
    assert list(organization.external_sponsors.all()) == [lead]
    actions = sorted(AuditEvent.objects.filter(object_type="connectedorganization")
                     .values_list("action", "actor_label"))
    # The guest of its domain joined it when it was created, and so could sponsor it.
    assert actions == [("connectedOrganization.created", people[role].email),
                       ("connectedOrganization.guestsChanged", people[role].email),
                       ("connectedOrganization.sponsorAdded", people[role].email),
                       ("connectedOrganization.sponsorAdded", people[role].email)]
    page = client.get(reverse(f"{ORGS}_changelist")).content.decode()
    assert "northwind.example, nw-traders.example" in page


def _field_errors(response, field):
    return list(response.context["adminform"].form.errors.get(field, []))


def test_a_refused_domain_shows_beside_the_field_and_nothing_is_saved(world, people,
                                                                      as_user):
    client = as_user(people["connected organization admin"])
    response = client.post(reverse(f"{ORGS}_add"), FORM | {
        "domains": "northwind.example\r\ncontoso.example",
        "internal_sponsors": [world.approver.pk]})
    assert response.status_code == 200
    assert _field_errors(response, "domains") == [
        "The domain “contoso.example” already belongs to the connected organization "
        "“Contoso”."]
    response = client.post(reverse(f"{ORGS}_add"), FORM | {"domains": "north wind"})
    assert _field_errors(response, "domains") == [
        "“north” is not a valid domain name: use the part of the email addresses after the @, "
        "such as contoso.com."]
    assert not ConnectedOrganization.objects.filter(display_name="Northwind").exists()
    assert not IdentitySource.objects.filter(domain_name="northwind.example").exists()
    assert not AuditEvent.objects.filter(object_type="connectedorganization").exists()


def test_a_refused_sponsor_shows_beside_its_field(world, people, as_user):
    client = as_user(people["global admin"])
    url = reverse(f"{ORGS}_change", args=[world.organization.pk])
    # The form offers only Contoso's guests; a guest of Fabrikam is not even a choice.
    response = client.post(url, FORM | {"display_name": "Contoso",
                                        "domains": "contoso.example",
                                        "external_sponsors": [world.outsider.pk]})
    assert response.status_code == 200
    assert _field_errors(response, "external_sponsors")
    assert not world.organization.external_sponsors.exists()


def test_changing_domains_state_and_sponsors(world, people, as_user):
    client = as_user(people["connected organization admin"])
    organization = world.organization
    organization.internal_sponsors.add(world.approver)
    url = reverse(f"{ORGS}_change", args=[organization.pk])
    page = client.get(url).content.decode()
    assert "contoso.example</textarea>" in page
    response = client.post(url, FORM | {
        "display_name": "Contoso", "domains": "contoso.example, contoso-labs.example",
        "state": "proposed", "internal_sponsors": [world.second_approver.pk],
        "external_sponsors": [world.requester.pk]})
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.state == "proposed"
    assert sorted(organization.identity_sources.values_list("domain_name", flat=True)) == \
        ["contoso-labs.example", "contoso.example"]
    assert list(organization.internal_sponsors.all()) == [world.second_approver]
    assert list(organization.external_sponsors.all()) == [world.requester]
    assert sorted(AuditEvent.objects.filter(object_id=str(organization.pk),
                                            object_type="connectedorganization")
                  .values_list("action", flat=True)) == [
        "connectedOrganization.changed", "connectedOrganization.sponsorAdded",
        "connectedOrganization.sponsorAdded", "connectedOrganization.sponsorRemoved"]
    history = client.get(reverse(f"{ORGS}_history", args=[organization.pk])).content.decode()
    assert "connectedOrganization.sponsorRemoved" in history


def test_an_organization_in_use_is_not_deleted_and_the_page_says_why(world, people, as_user):
    client = as_user(people["connected organization admin"])
    url = reverse(f"{ORGS}_delete", args=[world.organization.pk])
    for response in (client.get(url, follow=True), client.post(url, {"post": "yes"},
                                                                follow=True)):
        assert response.redirect_chain[-1][0] == reverse(f"{ORGS}_change",
                                                         args=[world.organization.pk])
        assert ("Contoso cannot be deleted while an assignment policy targets it"
                in response.content.decode())
    assert ConnectedOrganization.objects.filter(pk=world.organization.pk).exists()


def test_an_unused_organization_is_deleted_through_the_service(world, people, as_user):
    client = as_user(people["connected organization admin"])
    organization = organization_save(actor=people["global admin"], organization_id=None,
                                     display_name="Northwind", domains=["northwind.example"])
    url = reverse(f"{ORGS}_delete", args=[organization.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not ConnectedOrganization.objects.filter(pk=organization.pk).exists()
    event = AuditEvent.objects.get(action="connectedOrganization.deleted")
    assert event.actor == people["connected organization admin"]


def test_organizations_have_no_bulk_delete_action(world, people, as_user):
    client = as_user(people["global admin"])
    response = client.post(reverse(f"{ORGS}_changelist"), {
        "action": "delete_selected", "_selected_action": [world.organization.pk],
        "post": "yes"})
    assert response.status_code in {200, 302}
    assert ConnectedOrganization.objects.filter(pk=world.organization.pk).exists()
    assert 'name="action"' not in client.get(reverse(f"{ORGS}_changelist")).content.decode()


# Tenant settings


def test_the_tenant_settings_list_is_its_one_change_page(world, people, as_user):
    client = as_user(people["global admin"])
    response = client.get(reverse(f"{SETTINGS}_changelist"))
    assert response.status_code == 302
    assert response.url == _urls(world)["tenant settings"]
    page = client.get(response.url).content.decode()
    assert "Block sign-in, then delete" in page and 'value="30"' in page
    assert client.get(reverse(f"{SETTINGS}_add")).status_code == 403
    assert client.post(reverse(f"{SETTINGS}_delete", args=[1]),
                       {"post": "yes"}).status_code == 403


def test_a_global_administrator_changes_the_lifecycle_setting(world, people, as_user):
    client = as_user(people["global admin"])
    url = _urls(world)["tenant settings"]
    response = client.post(url, {"external_user_lifecycle_action": "blockSignIn",
                                 "days_until_external_user_deleted_after_blocked": "14"})
    assert response.status_code == 302 and response.url == url
    settings = TenantSettings.current()
    assert (settings.external_user_lifecycle_action,
            settings.days_until_external_user_deleted_after_blocked) == ("blockSignIn", 14)
    event = AuditEvent.objects.get(action="tenantSettings.changed")
    assert event.actor == people["global admin"]
    response = client.post(url, {"external_user_lifecycle_action": "blockSignInAndDelete",
                                 "days_until_external_user_deleted_after_blocked": ""})
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors[
        "days_until_external_user_deleted_after_blocked"]) == [
        "Give the number of days between blocking and deletion."]
    assert TenantSettings.current().external_user_lifecycle_action == "blockSignIn"


def test_a_connected_organization_admin_cannot_change_the_setting(world, people, as_user):
    client = as_user(people["connected organization admin"])
    response = client.post(_urls(world)["tenant settings"], {
        "external_user_lifecycle_action": "none",
        "days_until_external_user_deleted_after_blocked": "30"})
    assert response.status_code == 403
    assert TenantSettings.current().external_user_lifecycle_action == "blockSignInAndDelete"


# External users


def test_external_users_show_their_lifecycle(world, people, as_user):
    assignment = delivered_assignment(world)
    blocked = GuestFactory(email="gone@contoso.example", connected_organization=world.organization,
                           subject_lifecycle=SubjectLifecycle.GOVERNED)
    blocked_at = assignment.created_at
    type(blocked).objects.filter(pk=blocked.pk).update(
        account_state=AccountState.BLOCKED, is_active=False, blocked_at=blocked_at,
        delete_due_at=blocked_at + timedelta(days=30))
    client = as_user(people["connected organization admin"])
    page = client.get(reverse(f"{USERS}_changelist")).content.decode()
    ends = assignment.expires_at
    assert "requester@contoso.example" in page and "gone@contoso.example" in page
    assert "member@access.example" not in page  # members are not external users
    assert "Governed" in page and "Blocked" in page
    assert f"Blocked on {ends:%-d %b %Y} when access ends" in page
    assert f"deleted on {(blocked_at + timedelta(days=30)):%-d %b %Y} unless assigned" in page
    assert "Not governed: keeps the account when access ends." in page  # the outsider
    filtered = client.get(reverse(f"{USERS}_changelist") + "?account_state__exact=blocked")
    assert "gone@contoso.example" in filtered.content.decode()
    assert "requester@contoso.example" not in filtered.content.decode()
    soon = client.get(reverse(f"{USERS}_changelist") + "?deletion_due=7").content.decode()
    assert "gone@contoso.example" not in soon


def test_the_external_user_list_costs_the_same_queries_however_many_guests(world, people,
                                                                          as_user):
    client = as_user(people["global admin"])
    url = reverse(f"{USERS}_changelist")
    client.get(url)

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    few = count()
    for n in range(15):
        GuestFactory(email=f"guest{n}@contoso.example",
                     connected_organization=world.organization)
    assert count() == few
