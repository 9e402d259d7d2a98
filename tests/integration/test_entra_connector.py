"""The Microsoft Entra connector, with real msal, against a Graph-shaped HTTPS server on
loopback (tests/graph_server.py) whose self-signed certificate the connector is told to trust."""

import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
import time_machine

from governance import clock
from governance.choices import (
    AccountAction,
    AccountState,
    AssignmentState,
    CatalogRole,
    DeliveryAction,
    DeliveryState,
    OriginSystem,
    SystemKind,
)
from governance.connectors import ConnectorError, Person, RoleChange, connector_for_system
from governance.connectors.base import DiscoveredResource, DiscoveredRole
from governance.connectors.entra import DEFAULT_ACCESS_ROLE, EntraConnector
from governance.models import (
    AccessPackage,
    AssignmentPolicy,
    Resource,
    ResourceRole,
    ResourceRoleScope,
    RoleDelivery,
    SystemAccount,
    TargetSystem,
    User,
)
from governance.security import secrets
from governance.services.accounts import accounts_change, accounts_process
from governance.services.delivery import deliveries_process
from governance.services.requests import request_admin_add, request_remove
from tests.factories import CatalogFactory, GuestFactory, PackageFactory, PolicyFactory, role_holder
from tests.graph_server import GraphServer

pytestmark = pytest.mark.django_db

CLIENT_ID = "6c1f0a55-portal"
SECRET = "correct horse battery staple"


@pytest.fixture(scope="module")
def graph_server():
    server = GraphServer(client_id=CLIENT_ID, client_secret=SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def graph(graph_server, settings):
    graph_server.reset()
    settings.CONNECTOR_CA_BUNDLE = str(graph_server.ca_path)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return graph_server


def _tenant(graph: GraphServer, **fields) -> TargetSystem:
    return TargetSystem.objects.create(**{
        "display_name": "Contoso tenant", "kind": SystemKind.ENTRA, "base_url": graph.graph_url,
        "authority": graph.authority, "client_id": CLIENT_ID,
        "secret_encrypted": secrets.encrypt(SECRET)} | fields)


@pytest.fixture
def tenant(graph) -> TargetSystem:
    return _tenant(graph)


@dataclass
class Lab:
    """A package granting Member of an Entra group and the Reader role of an application."""

    graph: GraphServer
    tenant: TargetSystem
    package: AccessPackage
    policy: AssignmentPolicy
    owner: User
    guest: User
    group_id: str
    app_id: str
    reader_id: str

    def assign(self):
        request = request_admin_add(actor=self.owner, access_package_id=self.package.pk,
                                    policy_id=self.policy.pk, target=self.guest)
        deliveries_process()
        request.assignment.refresh_from_db()
        return request.assignment

    def guest_id(self) -> str:
        return self.graph.directory.user_by_mail(self.guest.email)["id"]

    def members(self) -> set[str]:
        return self.graph.directory.groups[self.group_id]["members"]


def _entra_role(package, tenant, *, origin_system, origin_id, name, role_id, role_name):
    resource = Resource.objects.create(
        catalog=package.catalog, display_name=name, origin_system=origin_system,
        origin_id=origin_id, connector="entra", system=tenant)
    role = ResourceRole.objects.create(resource=resource, origin_id=role_id,
                                       display_name=role_name)
    ResourceRoleScope.objects.create(access_package=package, role=role)


@pytest.fixture
def lab(graph, tenant) -> Lab:
    directory = graph.directory
    group_id = directory.add_group("Falcon engineers")
    reader_id = "a1b2c3d4-0000-4000-8000-00000000beef"
    app_id = directory.add_app("Falcon portal", {"Reader": reader_id, "Editor": ""})
    catalog = CatalogFactory(display_name="Falcon")
    package = PackageFactory(catalog=catalog, display_name="Falcon in Entra")
    _entra_role(package, tenant, origin_system=OriginSystem.GROUP, origin_id=group_id,
                name="Falcon engineers", role_id=f"Member_{group_id}", role_name="Member")
    _entra_role(package, tenant, origin_system=OriginSystem.APPLICATION, origin_id=app_id,
                name="Falcon portal", role_id=reader_id, role_name="Reader")
    return Lab(graph, tenant, package, PolicyFactory(access_package=package),
               role_holder(catalog, CatalogRole.OWNER, email="owner@access.example"),
               GuestFactory(email="ada@fabrikam.example", display_name="Ada Lovelace"),
               group_id, app_id, reader_id)


def _deliveries(assignment) -> dict[str, RoleDelivery]:
    return {d.role.resource.origin_system: d
            for d in assignment.deliveries.select_related("role__resource")}


def test_first_delivery_invites_the_guest_once_and_grants_group_and_app_role(lab, settings):
    assignment = lab.assign()

    assert assignment.state == AssignmentState.DELIVERED
    [invitation] = lab.graph.directory.invitations
    assert invitation["invitedUserEmailAddress"] == "ada@fabrikam.example"
    assert invitation["invitedUserDisplayName"] == "Ada Lovelace"
    assert invitation["inviteRedirectUrl"] == settings.SITE_URL
    assert invitation["sendInvitationMessage"] is False
    guest_id = lab.guest_id()
    assert lab.graph.directory.users[guest_id]["userType"] == "Guest"
    assert lab.members() == {guest_id}
    assert lab.graph.directory.roles_of(guest_id) == {(lab.app_id, lab.reader_id)}
    account = SystemAccount.objects.get(user=lab.guest)
    assert (account.system, account.external_id) == (lab.tenant, guest_id)
    assert lab.graph.token_requests == 1  # one token for the whole batch


def test_a_user_of_the_tenant_is_found_by_mail_or_user_principal_name(lab):
    member_id = lab.graph.directory.add_user("ada@fabrikam.example", user_type="Member")
    assert lab.assign().state == AssignmentState.DELIVERED
    assert lab.graph.directory.invitations == []
    assert lab.members() == {member_id}
    assert SystemAccount.objects.get(user=lab.guest).external_id == member_id

    connector = EntraConnector(lab.tenant)
    bob = GuestFactory(email="bob@fabrikam.example")
    bob_id = lab.graph.directory.add_user("bob.smith@fabrikam.example",
                                          upn="bob@fabrikam.example")
    assert connector.ensure_user(_person(bob)) == bob_id


def _person(user, external_id=""):
    return Person(user.pk, user.email, user.display_name, external_id)


def test_ending_the_assignment_revokes_both_roles(lab):
    assignment = lab.assign()
    guest_id = lab.guest_id()
    request_remove(actor=lab.owner, assignment_id=assignment.pk, as_admin=True)
    assert deliveries_process() == 2

    assert lab.members() == set()
    assert lab.graph.directory.roles_of(guest_id) == set()
    assert {(d.action, d.state) for d in assignment.deliveries.all()} == {
        (DeliveryAction.REVOKE, DeliveryState.DONE)}
    assert len(lab.graph.directory.invitations) == 1


def test_revoking_what_is_already_gone_succeeds(lab):
    assignment = lab.assign()
    guest_id = lab.guest_id()
    lab.members().clear()  # someone removed the membership in Entra meanwhile
    request_remove(actor=lab.owner, assignment_id=assignment.pk, as_admin=True)
    deliveries_process()
    assert {d.state for d in assignment.deliveries.all()} == {DeliveryState.DONE}
    assert lab.graph.calls_to("DELETE", f"/v1.0/groups/{lab.group_id}/members/{guest_id}/$ref") == 1


def test_granting_what_is_already_there_succeeds(lab):
    lab.assign()
    connector, guest_id = EntraConnector(lab.tenant), lab.guest_id()
    changes = [_change(1, lab, OriginSystem.GROUP, lab.group_id, f"Member_{lab.group_id}"),
               _change(2, lab, OriginSystem.APPLICATION, lab.app_id, lab.reader_id)]
    results = connector.apply(changes)
    assert [(r.error, r.external_user_id) for r in results] == [("", guest_id)] * 2
    assert lab.members() == {guest_id}
    assert len(lab.graph.directory.assignments) == 1


def _change(delivery_id, lab, origin_system, resource_id, role_id, action=DeliveryAction.GRANT):
    return RoleChange(delivery_id=delivery_id, action=action, user_id=lab.guest.pk,
                      user_email=lab.guest.email, origin_system=origin_system,
                      resource_origin_id=resource_id, role_origin_id=role_id)


def test_a_short_retry_after_is_slept_through(lab):
    lab.graph.fail("/v1.0/users", retry_after=1)
    started = time.monotonic()
    assignment = lab.assign()
    assert time.monotonic() - started >= 1
    assert assignment.state == AssignmentState.DELIVERED
    assert lab.graph.calls_to("GET", "/v1.0/users") == 2
    assert lab.members() == {lab.guest_id()}


def test_a_long_retry_after_makes_the_rows_wait_as_long(lab):
    lab.graph.fail("/v1.0/users", retry_after=120)
    before = clock.now()
    assignment = lab.assign()

    assert assignment.state == AssignmentState.DELIVERING
    for delivery in _deliveries(assignment).values():
        assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 1)
        assert delivery.next_attempt_at >= before + timedelta(seconds=120)
        assert "429" in delivery.last_error and "Too many requests" in delivery.last_error
    # The rest of the batch waited too, rather than asking again at once.
    assert lab.graph.calls_to("GET", "/v1.0/users") == 1
    with time_machine.travel(before + timedelta(seconds=100)):
        assert deliveries_process() == 0
    with time_machine.travel(before + timedelta(seconds=125)):
        assert deliveries_process() == 2
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.DELIVERED


def test_a_503_is_recorded_and_a_later_attempt_delivers(lab):
    assigned_to = f"/v1.0/servicePrincipals/{lab.app_id}/appRoleAssignedTo"
    lab.graph.fail(assigned_to, status=503, method="POST")
    before = clock.now()
    assignment = lab.assign()

    rows = _deliveries(assignment)
    assert rows[OriginSystem.GROUP].state == DeliveryState.DONE
    app = rows[OriginSystem.APPLICATION]
    assert (app.state, app.attempts) == (DeliveryState.PENDING, 1)
    assert app.last_error.startswith(f"503 from POST {lab.graph.graph_url}")
    assert "temporarily unavailable" in app.last_error
    assert app.next_attempt_at >= before + timedelta(seconds=30)
    assert assignment.state == AssignmentState.DELIVERING

    with time_machine.travel(app.next_attempt_at + timedelta(seconds=1)):
        assert deliveries_process() == 1
    app.refresh_from_db()
    assignment.refresh_from_db()
    assert (app.state, app.attempts, app.last_error) == (DeliveryState.DONE, 2, "")
    assert assignment.state == AssignmentState.DELIVERED
    assert lab.graph.directory.roles_of(lab.guest_id()) == {(lab.app_id, lab.reader_id)}
    assert len(lab.graph.directory.invitations) == 1  # found the second time, not re-invited


def test_a_wrong_client_secret_fails_with_the_authoritys_words(lab):
    lab.tenant.secret_encrypted = secrets.encrypt("an old secret")
    lab.tenant.save()

    with pytest.raises(ConnectorError) as caught:
        EntraConnector(lab.tenant).check()
    assert "AADSTS7000215: Invalid client secret provided" in str(caught.value)
    assert caught.value.retryable is False

    lab.graph.token_requests = 0
    assignment = lab.assign()
    assert assignment.state == AssignmentState.DELIVERY_FAILED
    for delivery in _deliveries(assignment).values():
        assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 1)
        assert "AADSTS7000215" in delivery.last_error
    assert lab.graph.token_requests == 1  # the refusal is not asked again for every role
    assert lab.graph.calls == []


def test_an_outage_of_the_token_endpoint_is_retried(lab):
    lab.graph.fail(f"/{lab.graph.tenant_id}/oauth2/v2.0/token", status=503)
    assignment = lab.assign()
    for delivery in _deliveries(assignment).values():
        assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 1)
        assert delivery.last_error == f"Could not get a token from {lab.graph.authority}: " \
                                      "HTTP Error: 503"
    with time_machine.travel(clock.now() + timedelta(minutes=1)):
        assert deliveries_process() == 2
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.DELIVERED


def test_a_missing_secret_says_what_to_set(graph):
    tenant = _tenant(graph, secret_encrypted="", secret_env="PORTAL_SECRET_ENTRA_NOT_SET_HERE")
    with pytest.raises(ConnectorError, match="PORTAL_SECRET_ENTRA_NOT_SET_HERE") as caught:
        connector_for_system(tenant).check()
    assert caught.value.retryable is False


def test_an_untrusted_certificate_is_refused(graph, settings):
    settings.CONNECTOR_CA_BUNDLE = True  # the system's authorities: not our self-signed one
    with pytest.raises(ConnectorError, match="certificate") as caught:
        EntraConnector(_tenant(graph)).check()
    assert caught.value.retryable is False
    assert graph.token_requests == 0


def test_garbage_fails_the_delivery_and_is_never_taken_for_success(lab):
    lab.graph.fail("/v1.0/users", garbage=True, times=5)
    assignment = lab.assign()

    assert assignment.state == AssignmentState.DELIVERY_FAILED
    for delivery in _deliveries(assignment).values():
        assert delivery.state == DeliveryState.FAILED
        assert "not JSON" in delivery.last_error and "Bad Gateway" in delivery.last_error
    assert lab.graph.directory.invitations == []
    assert not SystemAccount.objects.exists()


def test_block_unblock_and_delete_reach_the_tenant(lab):
    lab.assign()
    guest_id = lab.guest_id()
    account = SystemAccount.objects.get(user=lab.guest)

    for action, enabled, state in ((AccountAction.BLOCK, False, AccountState.BLOCKED),
                                   (AccountAction.UNBLOCK, True, AccountState.ACTIVE)):
        accounts_change(user_ids=[lab.guest.pk], action=action)
        assert accounts_process() == 1
        account.refresh_from_db()
        assert (account.state, account.pending_action, account.last_error) == (state, "", "")
        assert lab.graph.directory.users[guest_id]["accountEnabled"] is enabled

    accounts_change(user_ids=[lab.guest.pk], action=AccountAction.DELETE)
    assert accounts_process() == 1
    account.refresh_from_db()
    assert account.state == AccountState.DELETED
    assert guest_id not in lab.graph.directory.users
    assert lab.members() == set()
    # Deleting someone already gone is done too.
    EntraConnector(lab.tenant).delete_user(_person(lab.guest, guest_id))


def test_a_member_of_the_tenant_is_never_deleted(lab):
    member_id = lab.graph.directory.add_user("ada@fabrikam.example", user_type="Member")
    lab.assign()
    accounts_change(user_ids=[lab.guest.pk], action=AccountAction.DELETE)
    accounts_process()
    account = SystemAccount.objects.get(user=lab.guest)
    assert (account.state, account.pending_action) == (AccountState.ACTIVE, AccountAction.DELETE)
    assert account.next_attempt_at is None  # not retried: someone must look
    assert "not a guest" in account.last_error
    assert member_id in lab.graph.directory.users


def test_check_names_the_tenant(tenant):
    assert EntraConnector(tenant).check() == "Signed in to tenant Contoso."


def test_discover_lists_groups_and_applications_across_pages(graph, tenant):
    directory = graph.directory
    directory.page_size = 2
    groups = [directory.add_group(name) for name in ("Falcon", "Hawk", "Kestrel")]
    unified = directory.add_group("Falcon team", group_types=["Unified"], mail_enabled=True)
    directory.add_group("Everyone (dynamic)", group_types=["DynamicMembership"])
    directory.add_group("Falcon distribution list", mail_enabled=True)
    app = directory.add_app("Falcon portal", {"Reader": "", "Editor": ""})
    plain = directory.add_app("Wiki")
    directory.add_app("Microsoft Graph", {"Directory reader": ""}, enterprise=False)

    found = EntraConnector(tenant).discover()

    def group(group_id, name):
        return DiscoveredResource(name, OriginSystem.GROUP, group_id, roles=[
            DiscoveredRole("Member", f"Member_{group_id}"),
            DiscoveredRole("Owner", f"Owner_{group_id}")])

    roles = directory.service_principals[app]["appRoles"]
    assert found == [
        *[group(i, n) for i, n in zip(groups, ("Falcon", "Hawk", "Kestrel"), strict=True)],
        group(unified, "Falcon team"),
        DiscoveredResource("Falcon portal", OriginSystem.APPLICATION, app, roles=[
            DiscoveredRole(role["displayName"], role["id"]) for role in roles]),
        DiscoveredResource("Wiki", OriginSystem.APPLICATION, plain, roles=[
            DiscoveredRole("Default Access", DEFAULT_ACCESS_ROLE)]),
    ]
    assert graph.calls_to("GET", "/v1.0/groups") == 3  # six groups, two a page
