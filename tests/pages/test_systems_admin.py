"""Target systems in the admin (global administrators only; the secret never shows), the
system of each resource and delivery row, people's accounts in the systems, and delivery in
the open on the requestor's Request history."""

import re
from datetime import UTC, datetime
from html import unescape

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance.choices import CatalogRole, GlobalRole
from governance.connectors import (
    _CLASSES,
    Connector,
    ConnectorError,
    DiscoveredResource,
    DiscoveredRole,
)
from governance.models import (
    GlobalRoleAssignment,
    Resource,
    ResourceRoleScope,
    RoleDelivery,
    SystemAccount,
    TargetSystem,
)
from governance.services.delivery import deliveries_process
from governance.services.requests import request_submit
from governance.services.system_refresh import system_refresh
from governance.services.systems import system_save
from tests.factories import (
    GuestFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    group_role,
    role_holder,
)

SYSTEMS = "admin:governance_targetsystem"
SECRET = "tok-7f3a9c-very-secret"
FORM = {"display_name": "Contoso SCIM app", "kind": "scim",
        "base_url": "https://app.contoso.test/scim/v2", "authority": "", "client_id": "",
        "secret_env": "", "secret": SECRET, "_save": "Save"}
# 27 Nov 2026, 08:30 UTC: the times the pages print.
MOMENT = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)


class FakeScim(Connector):
    """Answers checks and Refresh as the test says; grants fail with `error` when set."""

    answer = "Connected to the SCIM service: 12 users, 3 groups."
    error: ConnectorError | None = None
    found = [DiscoveredResource("Sales", "ScimGroup", "g-sales", "The sales team",
                                [DiscoveredRole("Member", "member")])]

    def check(self):
        if self.error is not None:
            raise self.error
        return self.answer

    def discover(self):
        return list(self.found)

    def grant(self, change):
        if self.error is not None:
            raise self.error

    def revoke(self, change):
        self.grant(change)


@pytest.fixture
def fake():
    saved = _CLASSES.get("scim")
    FakeScim.error = None
    _CLASSES["scim"] = FakeScim
    yield FakeScim
    if saved is None:
        _CLASSES.pop("scim", None)
    else:
        _CLASSES["scim"] = saved


@pytest.fixture
def admin(world):
    return UserFactory(email="global@access.example", is_superuser=True)


@pytest.fixture
def system(admin):
    return system_save(actor=admin, display_name="Contoso SCIM app", kind="scim",
                       base_url="https://app.contoso.test/scim/v2", secret_value=SECRET)


@pytest.fixture
def sales(world, admin, system, fake):
    """The Sales group of the SCIM app, refreshed into the world's catalog."""
    system_refresh(actor=admin, system_id=system.pk, catalog_id=world.catalog.pk)
    return Resource.objects.get(system=system)


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def shown(response) -> str:
    """The page's text without tags, with spaces tidied."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page(response))).split())


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# The systems admin


def test_the_secret_never_appears_in_the_admin(as_user, admin, world):
    client = as_user(admin)
    refused = client.post(reverse(f"{SYSTEMS}_add"), FORM | {"base_url": "app.contoso.test"})
    assert "must be an http:// or https:// address" in page(refused)
    assert SECRET not in page(refused)
    assert not TargetSystem.objects.exists()
    saved = client.post(reverse(f"{SYSTEMS}_add"), FORM)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    system = TargetSystem.objects.get()
    urls = [reverse(f"{SYSTEMS}_changelist"), reverse(f"{SYSTEMS}_change", args=[system.pk]),
            reverse(f"{SYSTEMS}_history", args=[system.pk]),
            reverse(f"{SYSTEMS}_refresh", args=[system.pk]),
            reverse(f"{SYSTEMS}_delete", args=[system.pk])]
    for url in urls:
        html = page(client.get(url))
        assert SECRET not in html and system.secret_encrypted not in html, url
    change = page(client.get(urls[1]))
    assert "A secret is stored (encrypted)" in change
    assert 'type="password"' in change
    # A refused change, with a new secret typed: the page does not echo it either.
    refused = client.post(urls[1], FORM | {"secret": "another-secret-typed", "kind": "ldap"})
    assert "another-secret-typed" not in page(refused) and SECRET not in page(refused)
    system.refresh_from_db()
    assert system.secret() == SECRET


def test_a_secret_read_from_the_environment_says_so(as_user, admin, world, monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET_CONTOSO_SCIM", "from-the-environment")
    client = as_user(admin)
    response = client.post(reverse(f"{SYSTEMS}_add"),
                           FORM | {"secret": "", "secret_env": "PORTAL_SECRET_CONTOSO_SCIM"})
    assert response.status_code == 302
    system = TargetSystem.objects.get()
    assert "Read from $PORTAL_SECRET_CONTOSO_SCIM" in page(client.get(
        reverse(f"{SYSTEMS}_change", args=[system.pk])))


@time_machine.travel(MOMENT, tick=False)
def test_test_connection_shows_what_the_system_said(as_user, admin, system, fake):
    client = as_user(admin)
    change = reverse(f"{SYSTEMS}_change", args=[system.pk])
    check = reverse(f"{SYSTEMS}_check", args=[system.pk])
    assert f'action="{check}"' in page(client.get(change))
    assert client.get(check).status_code == 405
    response = client.post(check, follow=True)
    succeeded = f"Test connection to “Contoso SCIM app” succeeded: {fake.answer}"
    assert succeeded in messages_of(response)
    fake.error = ConnectorError("401 Unauthorized: invalid bearer token", retryable=False)
    response = client.post(check, follow=True)
    assert messages_of(response) == ["The connection to “Contoso SCIM app” failed: 401 "
                                     "Unauthorized: invalid bearer token"]
    listing = shown(client.get(reverse(f"{SYSTEMS}_changelist")))
    assert ("Contoso SCIM app SCIM 2.0 Failed (27 Nov 2026, 08:30): 401 Unauthorized: "
            "invalid bearer token 0") in listing


def test_refresh_offers_the_systems_groups_in_a_catalog(as_user, admin, world, system, fake):
    client = as_user(admin)
    url = reverse(f"{SYSTEMS}_refresh", args=[system.pk])
    assert world.catalog.display_name in page(client.get(url))
    response = client.post(url, {"catalog": world.catalog.pk}, follow=True)
    assert messages_of(response) == [
        "Refreshed “Contoso SCIM app” into “Projects”: 1 resource(s) added, 0 updated, "
        "0 unchanged, 1 role(s) added, 0 renamed."]
    resource = Resource.objects.get(system=system)
    assert (resource.catalog, resource.display_name, resource.connector) == \
        (world.catalog, "Sales", "scim")
    assert "Sales" in shown(client.get(reverse(f"{SYSTEMS}_change", args=[system.pk])))


def test_a_system_in_use_cannot_be_deleted(as_user, admin, system, sales):
    client = as_user(admin)
    response = client.get(reverse(f"{SYSTEMS}_delete", args=[system.pk]), follow=True)
    assert any("cannot be deleted while a resource delivers into it" in message
               for message in messages_of(response))
    assert TargetSystem.objects.filter(pk=system.pk).exists()


def test_only_global_administrators_see_the_systems_admin(as_user, world, system):
    org_admin = UserFactory(email="partners@access.example")
    GlobalRoleAssignment.objects.create(user=org_admin, role=GlobalRole.CONNECTED_ORG_ADMIN)
    for person in (world.owner, org_admin):
        client = as_user(person)
        assert "Target systems" not in page(client.get(reverse("admin:index")))
        for url in (reverse(f"{SYSTEMS}_changelist"), reverse(f"{SYSTEMS}_add"),
                    reverse(f"{SYSTEMS}_change", args=[system.pk]),
                    reverse(f"{SYSTEMS}_refresh", args=[system.pk])):
            assert client.get(url).status_code == 403, (person, url)
        assert client.post(reverse(f"{SYSTEMS}_check", args=[system.pk])).status_code == 403
    system.refresh_from_db()
    assert system.last_checked_at is None


# Resources and assignments


@time_machine.travel(MOMENT, tick=False)
def test_a_resource_shows_its_system_and_owners_can_test_it(as_user, world, sales, fake):
    reader = role_holder(world.catalog, CatalogRole.READER, email="reader@access.example")
    change = reverse("admin:governance_resource_change", args=[sales.pk])
    check = reverse("admin:governance_resource_check", args=[sales.pk])
    client = as_user(world.owner)
    text = shown(client.get(change))
    assert "Contoso SCIM app (SCIM 2.0) · Not tested yet" in text
    response = client.post(check, follow=True)
    assert messages_of(response) == [
        f"Test connection to “Contoso SCIM app” succeeded: {fake.answer}"]
    assert (f"Contoso SCIM app (SCIM 2.0) · Connected (27 Nov 2026, 08:30): {fake.answer}"
            in shown(client.get(change)))
    client = as_user(reader)
    html = page(client.get(change))
    assert "Contoso SCIM app" in html and f'action="{check}"' not in html
    assert client.post(check).status_code == 403


def _scim_package(world, sales):
    """A package with Sales' Member role (SCIM) and a portal group's, open to everyone."""
    package = PackageFactory(catalog=world.catalog, display_name="Sales tools")
    ResourceRoleScope.objects.create(access_package=package, role=sales.roles.get())
    group_role(package, world.group)
    PolicyFactory(access_package=package, display_name="Everyone")
    return package


@time_machine.travel(MOMENT, tick=False)
def test_the_assignment_page_shows_each_roles_system_and_retry(as_user, world, sales, fake):
    package = _scim_package(world, sales)
    fake.error = ConnectorError("503 Service Unavailable", retry_after=900)
    request = request_submit(requestor=world.requester, access_package_id=package.pk)
    deliveries_process()
    request.refresh_from_db()
    text = shown(as_user(world.owner).get(reverse("admin:governance_assignment_change",
                                                  args=[request.assignment_id])))
    # Role, system, action, state, attempts, last error, note, next retry.
    assert ("Member of Sales Contoso SCIM app Grant Pending 1 503 Service Unavailable - "
            "27 Nov 2026, 08:45") in text
    assert "Member of Project Falcon Portal groups Grant Done 1 - - —" in text


# Request history


def _history(client) -> list[str]:
    html = page(client.get(reverse("request_history")))
    return [" ".join(unescape(re.sub(r"<[^>]+>", "", item)).split()) for item in
            re.findall(r'<li class="delivery-\w+">(.*?)</li>', html, re.S)]


@time_machine.travel(MOMENT, tick=False)
def test_request_history_says_where_each_role_stands(as_user, world, sales, fake):
    package = _scim_package(world, sales)
    fake.error = ConnectorError("503 Service Unavailable: try later", retry_after=900)
    request_submit(requestor=world.requester, access_package_id=package.pk)
    deliveries_process()
    client = as_user(world.requester)
    assert _history(client) == [
        "Member of Project Falcon: Delivered 27 Nov 2026, 08:30",
        "Member of Sales (Contoso SCIM app): Trying again at 08:45 — the system said: 503 "
        "Service Unavailable: try later"]
    RoleDelivery.objects.filter(role__resource=sales).update(
        state="failed", next_attempt_at=None,
        last_error="409 Conflict: userName bob@fabrikam.example already exists\nTrace: x")
    assert _history(client)[1] == (
        "Member of Sales (Contoso SCIM app): Failed — the system said: 409 Conflict: userName "
        "[someone] already exists. The catalog's administrators see this failure and can try "
        "again.")
    RoleDelivery.objects.filter(role__resource=sales).update(state="pending", last_error="",
                                                             attempts=0)
    assert _history(client)[1] == "Member of Sales (Contoso SCIM app): Waiting to be delivered"


@time_machine.travel(MOMENT, tick=False)
def test_request_history_reveals_nothing_of_other_people(as_user, world, sales, fake):
    package = _scim_package(world, sales)
    other = GuestFactory(email="other@contoso.example",
                         connected_organization=world.organization)
    fake.error = ConnectorError("500 Internal error for other@contoso.example")
    request_submit(requestor=other, access_package_id=package.pk)
    deliveries_process()
    html = page(as_user(world.requester).get(reverse("request_history")))
    assert "Sales tools" not in html and "Internal error" not in html
    assert "other@contoso.example" not in html
    lines = _history(as_user(other))
    assert lines[1] == ("Member of Sales (Contoso SCIM app): Trying again at 08:30 — the "
                        "system said: 500 Internal error for other@contoso.example")


def test_request_history_queries_do_not_grow_with_deliveries(as_user, world, sales, fake):
    def deliver(count):
        for n in range(count):
            package = _scim_package(world, sales)
            package.display_name = f"Sales tools {n}"
            package.save()
            request_submit(requestor=world.requester, access_package_id=package.pk)
        deliveries_process()

    client = as_user(world.requester)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            page(client.get(reverse("request_history")))
        return len(captured)

    deliver(2)
    few = queries()
    deliver(20)
    assert queries() == few


# People's accounts in the systems


def test_accounts_in_systems_show_to_those_who_manage_people(as_user, world, admin, system):
    SystemAccount.objects.create(system=system, user=world.requester, external_id="scim-u-42",
                                 pending_action="block", attempts=2,
                                 last_error="503 Service Unavailable")
    guest_page = reverse("admin:governance_externaluser_change", args=[world.requester.pk])
    person_page = reverse("admin:governance_user_change", args=[world.requester.pk])
    for url in (guest_page, person_page):
        text = shown(as_user(admin).get(url))
        assert ("Contoso SCIM app scim-u-42 Active Block sign-in (2 attempts so far) "
                "503 Service Unavailable") in text, url
    # A catalog owner may look people up, but not at their accounts elsewhere.
    assert "scim-u-42" not in page(as_user(world.owner).get(person_page))
