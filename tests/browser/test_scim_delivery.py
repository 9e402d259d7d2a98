"""Delivery into a real SCIM application (the `scim2-server` process on loopback), in Chromium.

A global administrator connects the application in the admin's Target systems (the token typed
once, never shown again), tests the connection and refreshes its group into a catalog; a
member requests a package granting that group and the Celery worker delivers it: Request
history says so in plain words, and the application holds the membership. Then the
application goes down while a second member's request is delivered: Request history shows the
role waiting to be retried, with the system's own words and the time of the next try, and
says Delivered once the application is back and the retry has run.
"""

import re
from datetime import timedelta
from http.server import ThreadingHTTPServer
from threading import Thread

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import expect

from governance import clock
from governance.choices import (
    AllowedTargetScope,
    DeliveryState,
    RequestState,
    SystemKind,
)
from governance.models import AssignmentRequest, ResourceRole, RoleDelivery, TargetSystem
from governance.services.packages import package_create, package_role_add
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec
from governance.services.system_refresh import system_refresh
from governance.services.systems import system_save
from tests.browser.helpers import reload_until, screenshot, sign_in, verified
from tests.conftest import wait_for
from tests.factories import CatalogFactory, UserFactory
from tests.scim_server import TOKEN, ScimServer, ScriptedTarget

SYSTEM = "Heron CRM"
GROUP = "Heron CRM users"
PACKAGE = "Heron CRM account"


class Gateway(ScriptedTarget):
    """A loopback proxy in front of the scim2-server that can go down and come back on the
    same port; the server behind it keeps its groups (a restarted scim2-server is empty)."""

    def restart(self) -> None:
        port = self.server.server_address[1]
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()


@pytest.fixture
def gateway(scim_server):
    proxy = Gateway(upstream=scim_server.base_url)
    proxy.start()
    yield proxy
    if proxy.thread.is_alive():
        proxy.stop()


def shown_time(moment) -> str:
    """How Request history writes a retry's time: "08:45" today, with the date another day."""
    local = timezone.localtime(moment)
    if local.date() == timezone.localdate():
        return local.strftime("%H:%M")
    return date_format(local, "DATETIME_FORMAT")


def scim_id(scim_server: ScimServer, email: str) -> str:
    """The person's id in the SCIM application, which the portal created on delivery."""
    return wait_for(lambda: next((user["id"] for user in scim_server.users(userName=email)),
                                 None), what=f"an account for {email} in the SCIM application")


def offer_package(admin, role: ResourceRole):
    """Through the services: a package granting the SCIM group's Member role, requestable by
    everyone in the directory without approval (as demo_seed's seed_scim builds it)."""
    package = package_create(actor=admin, catalog_id=role.resource.catalog_id,
                             display_name=PACKAGE,
                             description="An account in the Heron CRM, in its users' group.")
    package_role_add(actor=admin, package_id=package.pk, role_id=role.pk)
    no_approval = PolicySpec(display_name="Everyone in the directory, no approval",
                             allowed_target_scope=AllowedTargetScope.ALL_DIRECTORY_USERS,
                             is_approval_required_for_add=False,
                             is_requestor_justification_required=True,
                             expiration_duration=timedelta(days=30))
    policy_save(actor=admin, access_package_id=package.pk, spec=no_approval)
    return package


def request_package(page, justification: str) -> None:
    """In My Access: Access packages → the package → Submit, landing on Request history."""
    page.get_by_role("navigation", name="Main").get_by_role("link",
                                                            name="Access packages").click()
    page.get_by_role("link", name=PACKAGE).click()
    expect(page.get_by_role("heading", name=PACKAGE, level=1)).to_be_visible()
    expect(page.get_by_text(f"Member of {GROUP}")).to_be_visible()
    page.get_by_label("Justification").fill(justification)
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(re.compile(r"/requests/$"))
    expect(page.get_by_role("heading", name="Request history", level=1)).to_be_visible()


def test_an_administrator_connects_a_scim_application_and_a_request_is_delivered_into_it(
        portal, page, new_context, scim_server):
    admin = verified(UserFactory(email="ada@access.example", display_name="Ada Admin",
                                 is_staff=True, is_superuser=True))
    riley = verified(UserFactory(email="riley@access.example", display_name="Riley Reed"))
    catalog = CatalogFactory(display_name="Sales apps")
    group_id = scim_server.create_group(GROUP)

    # The administrator adds the SCIM application, typing its token once.
    sign_in(page, admin.email)
    page.goto("/admin/")
    page.get_by_role("link", name="Target systems", exact=True).click()
    page.get_by_role("link", name=re.compile(r"^Add target system")).click()
    page.get_by_label("Display name").fill(SYSTEM)
    page.get_by_label("Kind").select_option(label="SCIM 2.0")
    page.get_by_label("Base URL").fill(scim_server.base_url)
    page.locator(".field-secret").get_by_label("Secret").fill(TOKEN)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(page.locator(".field-status")).to_contain_text("Not tested yet")
    expect(page.locator(".field-secret")).to_contain_text("A secret is stored (encrypted)")
    expect(page.locator(".field-secret").get_by_label("Secret")).to_have_value("")
    assert TOKEN not in page.content()
    system = TargetSystem.objects.get(display_name=SYSTEM)
    assert TOKEN not in system.secret_encrypted and system.secret() == TOKEN

    # Test connection: the service's own answer.
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"Test connection to “{SYSTEM}” succeeded: The SCIM service answered and holds 0 users.")
    expect(page.locator(".field-status")).to_contain_text("Connected (")

    # Refresh into the catalog: the application's group becomes a resource, with Member.
    page.get_by_role("link", name="Refresh into catalog…").click()
    expect(page.get_by_role("heading", name=f"Refresh “{SYSTEM}” into a catalog")).to_be_visible()
    page.get_by_label("Catalog").select_option(label="Sales apps")
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"Refreshed “{SYSTEM}” into “Sales apps”: 1 resource(s) added")
    expect(page.locator(".field-resource_list")).to_contain_text(f"{GROUP} (Sales apps)")
    assert TOKEN not in page.content()
    screenshot(page, "scim-01-target-system")
    role = ResourceRole.objects.get(resource__system=system, resource__origin_id=group_id,
                                    resource__catalog=catalog)
    assert role.display_name == "Member"

    # A package grants the group's Member role, for everyone without approval.
    offer_package(admin, role)

    # Riley requests it; the worker delivers it into the SCIM application.
    member_page = new_context().new_page()
    sign_in(member_page, riley.email)
    request_package(member_page, "I follow up Heron's sales leads.")
    history = member_page.locator("main")
    delivered = history.locator(".deliveries li.delivery-done")
    reload_until(member_page, delivered)
    expect(history.get_by_text("Delivered", exact=True)).to_be_visible()
    expect(delivered).to_contain_text(f"Member of {GROUP} ({SYSTEM}): Delivered ")
    screenshot(member_page, "scim-02-request-history-delivered")
    assert scim_server.members(group_id) == [scim_id(scim_server, riley.email)]
    assert AssignmentRequest.objects.get(target=riley).state == RequestState.DELIVERED


def test_an_outage_of_the_scim_application_shows_on_request_history_until_the_retry(
        portal, page, new_context, scim_server, gateway):
    admin = verified(UserFactory(email="ada@access.example", display_name="Ada Admin",
                                 is_staff=True, is_superuser=True))
    riley = verified(UserFactory(email="riley@access.example", display_name="Riley Reed"))
    sam = verified(UserFactory(email="sam@access.example", display_name="Sam Stone"))
    catalog = CatalogFactory(display_name="Sales apps")
    group_id = scim_server.create_group(GROUP)
    # The application, reached through the gateway, connected and offered as in the first
    # test (through the services this time); Riley already has the package.
    system = system_save(actor=admin, display_name=SYSTEM, kind=SystemKind.SCIM,
                         base_url=gateway.base_url, secret_value=TOKEN)
    system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    offer_package(admin, ResourceRole.objects.get(resource__system=system,
                                                  resource__origin_id=group_id))
    riley_page = new_context().new_page()
    sign_in(riley_page, riley.email)
    request_package(riley_page, "I follow up Heron's sales leads.")
    riley_id = scim_id(scim_server, riley.email)
    wait_for(lambda: scim_server.members(group_id) == [riley_id], what="Riley's membership")

    # The application goes down; Sam requests the package meanwhile.
    gateway.stop()
    sign_in(page, sam.email)
    request_package(page, "I join the Heron sales team on Monday.")
    history = page.locator("main")
    retrying = history.locator(".deliveries li.delivery-retrying")
    reload_until(page, retrying)
    expect(history.get_by_text("Delivering", exact=True)).to_be_visible()
    delivery = RoleDelivery.objects.get(assignment__target=sam)
    assert delivery.state == DeliveryState.PENDING and delivery.next_attempt_at > clock.now()
    expect(retrying).to_contain_text(
        f"Member of {GROUP} ({SYSTEM}): Trying again at {shown_time(delivery.next_attempt_at)}"
        f" — the system said: Could not reach {gateway.base_url}: Connection refused.")
    screenshot(page, "scim-03-request-history-retrying")
    assert scim_server.members(group_id) == [riley_id]

    # The administrators see the same row in the admin: its error and its next retry.
    admin_page = new_context().new_page()
    sign_in(admin_page, admin.email)
    admin_page.goto(f"/admin/governance/assignment/{delivery.assignment_id}/change/")
    row = admin_page.locator("tr", has_text=f"Member of {GROUP}")
    expect(row).to_contain_text("Pending")
    expect(row.locator("td.field-last_error")).to_contain_text("Connection refused")
    expect(row.locator("td.field-next_retry")).to_have_text(
        date_format(timezone.localtime(delivery.next_attempt_at), "DATETIME_FORMAT"))

    # The application is back: the administrator need not wait for the retry, and presses
    # Reprocess; the worker delivers at once.
    gateway.restart()
    admin_page.get_by_role("button", name="Reprocess").click()
    expect(admin_page.locator(".messagelist")).to_contain_text(
        "1 resource role(s) queued to be tried again now.")
    delivered = history.locator(".deliveries li.delivery-done")
    reload_until(page, delivered)
    expect(history.get_by_text("Delivered", exact=True)).to_be_visible()
    expect(delivered).to_contain_text(f"Member of {GROUP} ({SYSTEM}): Delivered ")
    expect(history.locator(".deliveries li.delivery-retrying")).to_have_count(0)
    screenshot(page, "scim-04-request-history-delivered-after-retry")
    assert set(scim_server.members(group_id)) == {riley_id, scim_id(scim_server, sam.email)}
