"""Connected organizations administered through their services: domains, state, sponsors,
deletion; only by global and connected organization administrators; every change audited."""

import pytest
from django.db import IntegrityError

from governance.choices import AccountState, ConnectedOrganizationState, GlobalRole
from governance.models import (
    AuditEvent,
    ConnectedOrganization,
    GlobalRoleAssignment,
    IdentitySource,
)
from governance.services.errors import (
    Duplicate,
    InvalidInput,
    InvalidState,
    NotAllowed,
    NotFound,
)
from governance.services.organizations import (
    domain_normalize,
    organization_delete,
    organization_save,
    organization_sponsor_add,
    organization_sponsor_remove,
)
from tests.factories import GuestFactory, OrganizationFactory, UserFactory


@pytest.fixture
def org_admin(world):
    person = UserFactory(email="partners@access.example")
    GlobalRoleAssignment.objects.create(user=person, role=GlobalRole.CONNECTED_ORG_ADMIN)
    return person


@pytest.fixture
def global_admin(world):
    return UserFactory(email="global@access.example", is_superuser=True)


def _domains(organization) -> list[str]:
    return sorted(organization.identity_sources.values_list("domain_name", flat=True))


def _save(actor, **overrides):
    arguments = {"actor": actor, "organization_id": None, "display_name": "Northwind",
                 "description": "Logistics partner", "domains": ["northwind.example"],
                 "state": ConnectedOrganizationState.CONFIGURED}
    return organization_save(**(arguments | overrides))


def test_a_connected_organization_administrator_creates_an_organization(org_admin):
    organization = _save(org_admin, display_name="  Northwind   Traders ",
                         domains=["NorthWind.example.", "@nw-traders.example"])
    assert organization.display_name == "Northwind Traders"
    assert organization.state == ConnectedOrganizationState.CONFIGURED
    assert _domains(organization) == ["northwind.example", "nw-traders.example"]
    event = AuditEvent.objects.get(action="connectedOrganization.created")
    assert (event.actor, event.object_id) == (org_admin, str(organization.pk))
    assert event.before is None
    assert event.after == {"displayName": "Northwind Traders", "description": "Logistics partner",
                           "state": "configured",
                           "domains": ["northwind.example", "nw-traders.example"]}


def test_changing_replaces_the_domains_and_audits_before_and_after(world, global_admin):
    organization = world.organization
    _save(global_admin, organization_id=organization.pk, display_name="Contoso Ltd",
          domains=["contoso.example", "contoso-labs.example"],
          state=ConnectedOrganizationState.PROPOSED)
    organization.refresh_from_db()
    assert (organization.display_name, organization.state) == ("Contoso Ltd", "proposed")
    assert _domains(organization) == ["contoso-labs.example", "contoso.example"]
    _save(global_admin, organization_id=organization.pk, display_name="Contoso Ltd",
          domains=["contoso-labs.example"], state=ConnectedOrganizationState.PROPOSED)
    assert _domains(organization) == ["contoso-labs.example"]
    # The requester's domain went, and they with it (tests/unit/test_guest_organization_by_domain).
    world.requester.refresh_from_db()
    assert world.requester.connected_organization is None
    last = AuditEvent.objects.filter(action="connectedOrganization.changed").first()
    assert last.before["domains"] == ["contoso-labs.example", "contoso.example"]
    assert last.after["domains"] == ["contoso-labs.example"]


def test_saving_without_a_change_writes_nothing(world, org_admin):
    _save(org_admin, organization_id=world.organization.pk, display_name="Contoso",
          description="", domains=["contoso.example"])
    assert not AuditEvent.objects.filter(action__startswith="connectedOrganization").exists()


def test_a_proposed_organization_is_configured_by_its_administrator(world, org_admin):
    proposed = OrganizationFactory(display_name="newcomer.example", domain="newcomer.example",
                                   state=ConnectedOrganizationState.PROPOSED)
    _save(org_admin, organization_id=proposed.pk, display_name="Newcomer Inc",
          domains=["newcomer.example"])
    proposed.refresh_from_db()
    assert proposed.state == ConnectedOrganizationState.CONFIGURED
    event = AuditEvent.objects.get(action="connectedOrganization.changed")
    assert (event.before["state"], event.after["state"]) == ("proposed", "configured")


@pytest.mark.parametrize("domain", ["contoso", "-contoso.example", "contoso-.example",
                                    "con toso.example", "contoso..example", "*.contoso.example",
                                    "10.0.0.1", "a" * 64 + ".example",
                                    ("a" * 60 + ".") * 5 + "example", "ann@contoso.example",
                                    "http://contoso.example"])
def test_invalid_domain_names_are_refused(org_admin, assert_refused, domain):
    error = assert_refused(lambda: _save(org_admin, domains=[domain]), InvalidInput,
                           "invalidInput", "not a valid domain name")
    assert error.field == "domains"


def test_international_domains_are_stored_in_their_ascii_form():
    assert domain_normalize("bücher.example") == "xn--bcher-kva.example"


def test_a_domain_of_another_organization_is_refused(world, org_admin, assert_refused):
    error = assert_refused(
        lambda: _save(org_admin, domains=["northwind.example", "Fabrikam.example"]),
        Duplicate, "domainTaken", "“fabrikam.example”", "“Fabrikam”")
    assert error.field == "domains"
    assert not IdentitySource.objects.filter(domain_name="northwind.example").exists()


def test_a_domain_twice_in_the_list_is_refused(org_admin, assert_refused):
    assert_refused(lambda: _save(org_admin, domains=["northwind.example", "NORTHWIND.example"]),
                   InvalidInput, "invalidInput", "listed twice")


def test_our_own_domain_cannot_belong_to_a_connected_organization(org_admin, assert_refused):
    assert_refused(lambda: _save(org_admin, domains=["access.example"]), InvalidInput,
                   "invalidInput", "our own domains")


def test_an_organization_needs_a_name_and_a_domain(org_admin, assert_refused):
    error = assert_refused(lambda: _save(org_admin, display_name="  "), InvalidInput,
                           "invalidInput", "name")
    assert error.field == "display_name"
    error = assert_refused(lambda: _save(org_admin, domains=[]), InvalidInput, "invalidInput",
                           "at least one domain")
    assert error.field == "domains"
    assert_refused(lambda: _save(org_admin, display_name="N" * 201), InvalidInput,
                   "invalidInput", "at most 200 characters")
    assert_refused(lambda: _save(org_admin, state="retired"), InvalidInput, "invalidInput",
                   "configured or proposed")


def test_the_database_keeps_one_organization_per_domain_if_two_saves_race(world):
    # What the service's savepoint relies on when a check and a concurrent save cross.
    with pytest.raises(IntegrityError):
        IdentitySource.objects.create(organization=OrganizationFactory(),
                                      domain_name="CONTOSO.example")


@pytest.mark.parametrize("who", ["owner", "member", "requester"])
def test_only_organization_administrators_manage_organizations(world, assert_refused, who):
    person = getattr(world, who)
    organization = world.organization
    calls = [
        lambda: _save(person),
        lambda: _save(person, organization_id=organization.pk, display_name="Renamed"),
        lambda: organization_sponsor_add(actor=person, organization_id=organization.pk,
                                         user=world.member, kind="internal"),
        lambda: organization_delete(actor=person, organization_id=organization.pk),
    ]
    for call in calls:
        assert_refused(call, NotAllowed, "notAllowed", "administrators")


def test_a_deactivated_global_administrator_is_refused(world, global_admin, assert_refused):
    global_admin.is_active = False
    global_admin.save()
    assert_refused(lambda: _save(global_admin), NotAllowed, "notAllowed", "administrators")


# Sponsors

def test_members_become_internal_sponsors_and_its_guests_external_ones(world, org_admin):
    organization = world.organization
    organization_sponsor_add(actor=org_admin, organization_id=organization.pk,
                             user=world.approver, kind="internal")
    # A guest who came before the organization had their domain may sponsor once it has.
    lead = GuestFactory(email="lead@contoso-labs.example")
    _save(org_admin, organization_id=organization.pk, display_name="Contoso", description="",
          domains=["contoso.example", "contoso-labs.example"])
    for guest in (world.requester, lead):
        organization_sponsor_add(actor=org_admin, organization_id=organization.pk, user=guest,
                                 kind="external")
    assert list(organization.internal_sponsors.all()) == [world.approver]
    assert set(organization.external_sponsors.all()) == {world.requester, lead}
    added = AuditEvent.objects.filter(action="connectedOrganization.sponsorAdded")
    assert sorted((event.after["sponsor"], event.after["kind"]) for event in added) == [
        ("approver@access.example", "internal"), ("lead@contoso-labs.example", "external"),
        ("requester@contoso.example", "external")]
    organization_sponsor_remove(actor=org_admin, organization_id=organization.pk,
                                user=world.requester, kind="external")
    assert list(organization.external_sponsors.all()) == [lead]
    removed = AuditEvent.objects.get(action="connectedOrganization.sponsorRemoved")
    assert removed.before == {"sponsor": "requester@contoso.example", "kind": "external"}


def test_sponsors_must_fit_their_kind(world, org_admin, assert_refused):
    organization = world.organization

    def add(user, kind):
        return lambda: organization_sponsor_add(actor=org_admin, organization_id=organization.pk,
                                                user=user, kind=kind)

    error = assert_refused(add(world.requester, "internal"), InvalidInput, "sponsorNotMember",
                           "guest", "members")
    assert error.field == "internal_sponsors"
    error = assert_refused(add(world.member, "external"), InvalidInput,
                           "sponsorNotOfOrganization", "not a guest of Contoso")
    assert error.field == "external_sponsors"
    assert_refused(add(world.outsider, "external"), InvalidInput, "sponsorNotOfOrganization",
                   "not a guest of Contoso")
    assert_refused(add(world.member, "honorary"), InvalidInput, "invalidInput",
                   "internal or external")
    world.requester.account_state, world.requester.is_active = AccountState.DELETED, False
    world.requester.save()
    assert_refused(add(world.requester, "external"), InvalidInput, "inactiveSponsor",
                   "not active")
    organization_sponsor_add(actor=org_admin, organization_id=organization.pk,
                             user=world.member, kind="internal")
    assert_refused(add(world.member, "internal"), Duplicate, "alreadySponsor",
                   "already an internal sponsor")
    assert_refused(lambda: organization_sponsor_remove(
        actor=org_admin, organization_id=organization.pk, user=world.approver, kind="internal"),
        NotFound, "notSponsor", "not an internal sponsor")
    assert list(organization.internal_sponsors.all()) == [world.member]


# Deletion

def test_an_organization_no_policy_targets_and_nobody_belongs_to_is_deleted(world, org_admin):
    organization = _save(org_admin)
    organization_sponsor_add(actor=org_admin, organization_id=organization.pk,
                             user=world.approver, kind="internal")
    organization_delete(actor=org_admin, organization_id=organization.pk)
    assert not ConnectedOrganization.objects.filter(pk=organization.pk).exists()
    assert not IdentitySource.objects.filter(domain_name="northwind.example").exists()
    event = AuditEvent.objects.get(action="connectedOrganization.deleted")
    assert event.before["domains"] == ["northwind.example"]
    assert event.before["internalSponsors"] == ["approver@access.example"]
    assert (event.actor, event.object_id) == (org_admin, str(organization.pk))


def test_an_organization_that_a_policy_targets_is_not_deleted(world, org_admin,
                                                              assert_refused):
    error = assert_refused(
        lambda: organization_delete(actor=org_admin, organization_id=world.organization.pk),
        InvalidState, "organizationInUse", "an assignment policy targets it")
    # Policies are counted, not named: the administrator may have no role on their catalog.
    assert world.policy.display_name not in error.message
    assert IdentitySource.objects.filter(domain_name="contoso.example").exists()


def test_a_deleted_organization_cannot_be_changed_or_deleted_again(world, org_admin,
                                                                    assert_refused):
    organization = _save(org_admin)
    organization_delete(actor=org_admin, organization_id=organization.pk)
    assert_refused(lambda: _save(org_admin, organization_id=organization.pk), NotFound,
                   "organizationNotFound", "no longer exists")
    assert_refused(lambda: organization_delete(actor=org_admin, organization_id=organization.pk),
                   NotFound, "organizationNotFound", "no longer exists")
