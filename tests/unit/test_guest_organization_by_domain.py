"""A guest's connected organization follows their email's domain, whichever came first: the
organization services re-point the guests of every domain they add, remove or delete, and
the people services those whose address or type changes. Scope is asserted through
request_options, the selector that decides whether a person may request a package."""

import pytest

from governance.choices import AllowedTargetScope, ConnectedOrganizationState, SubjectSetType
from governance.models import AuditEvent, ConnectedOrganization, StageApprover, User
from governance.selectors.packages import request_options
from governance.services.directory import user_sign_up
from governance.services.organizations import (
    organization_delete,
    organization_save,
    organization_sponsor_add,
)
from governance.services.people import person_create, person_update
from governance.services.requests import request_submit
from tests.factories import GuestFactory, PackageFactory, PolicyFactory, UserFactory, add_stage

Scope = AllowedTargetScope
GUESTS_CHANGED = "connectedOrganization.guestsChanged"


@pytest.fixture
def admin(world):
    return UserFactory(email="global@access.example", is_superuser=True)


def _package_for(organization=None, scope=Scope.SPECIFIC_CONNECTED_ORG_USERS):
    package = PackageFactory(display_name=f"For {organization or scope}")
    policy = PolicyFactory(access_package=package, allowed_target_scope=scope)
    if organization is not None:
        policy.specific_connected_organizations.add(organization)
    return package, policy


def _may_request(person, package) -> bool:
    person.refresh_from_db()
    return request_options(person, package).allowed


def _save(admin, organization, **changes):
    """organization_save with the organization's current values but `changes`."""
    current = {"display_name": organization.display_name,
               "description": organization.description, "state": organization.state,
               "domains": sorted(organization.identity_sources.values_list("domain_name",
                                                                           flat=True))}
    return organization_save(actor=admin, organization_id=organization.pk,
                             **(current | changes))


def _create(admin, name, *domains, state=ConnectedOrganizationState.CONFIGURED):
    return organization_save(actor=admin, organization_id=None, display_name=name,
                             domains=list(domains), state=state)


def _guest_events(organization) -> list[dict]:
    return [event.details for event in AuditEvent.objects.filter(
        action=GUESTS_CHANGED, object_id=str(organization.pk)).order_by("id")]


@pytest.mark.parametrize("scope", [Scope.SPECIFIC_CONNECTED_ORG_USERS,
                                   Scope.ALL_CONFIGURED_CONNECTED_ORG_USERS])
def test_a_guest_who_came_before_their_organization_is_in_its_scope_once_it_is_created(
        world, admin, scope):
    kim = person_create(actor=admin, values={"email": "kim@northwind.example",
                                             "user_type": "guest"})
    assert kim.connected_organization is None

    northwind = _create(admin, "Northwind", "northwind.example")

    package, _ = _package_for(northwind if scope == Scope.SPECIFIC_CONNECTED_ORG_USERS
                              else None, scope)
    assert _may_request(kim, package)
    assert kim.connected_organization == northwind
    assert _guest_events(northwind) == [{"guestsJoined": 1, "guestsLeft": 0}]


def test_a_guest_before_a_proposed_organization_joins_it_and_is_in_scope_once_configured(
        world, admin):
    PolicyFactory(allowed_target_scope=Scope.ALL_EXTERNAL_USERS)
    early = person_create(actor=admin, values={"email": "early@newcomer.example",
                                               "user_type": "guest"})
    lee = user_sign_up(user=User(email="lee@newcomer.example"))
    proposed = lee.connected_organization
    assert proposed.state == ConnectedOrganizationState.PROPOSED
    early.refresh_from_db()
    assert early.connected_organization == proposed
    configured_only, _ = _package_for(scope=Scope.ALL_CONFIGURED_CONNECTED_ORG_USERS)
    assert not _may_request(early, configured_only)

    _save(admin, proposed, display_name="Newcomer Inc",
          state=ConnectedOrganizationState.CONFIGURED)

    assert _may_request(early, configured_only) and _may_request(lee, configured_only)


def test_a_removed_domain_takes_its_guests_out_of_the_organizations_scope(world, admin):
    contoso = world.organization
    _save(admin, contoso, domains=["contoso.example", "contoso-labs.example"])
    labs_guest = GuestFactory(email="ada@contoso-labs.example", connected_organization=contoso)
    assert _may_request(world.requester, world.package)

    _save(admin, contoso, domains=["contoso-labs.example"])

    assert not _may_request(world.requester, world.package)
    assert world.requester.connected_organization is None
    assert _may_request(labs_guest, world.package)


def test_a_domain_moved_to_another_organization_moves_its_guests_and_their_sponsors(
        world, admin):
    contoso = world.organization
    _save(admin, contoso, domains=["contoso.example", "contoso-labs.example"])
    ada = GuestFactory(email="ada@contoso-labs.example", connected_organization=contoso)

    _save(admin, contoso, domains=["contoso.example"])
    labs = _create(admin, "Contoso Labs", "contoso-labs.example")

    labs_package, labs_policy = _package_for(labs)
    assert _may_request(ada, labs_package)
    assert not _may_request(ada, world.package)
    assert _may_request(world.requester, world.package)
    # Approval by the sponsors of the guest's organization asks the new organization's.
    lab_lead = UserFactory(email="lab.lead@access.example")
    organization_sponsor_add(actor=admin, organization_id=labs.pk, user=lab_lead,
                             kind="internal")
    organization_sponsor_add(actor=admin, organization_id=contoso.pk, user=world.approver,
                             kind="internal")
    add_stage(labs_policy, approver_type=SubjectSetType.INTERNAL_SPONSORS)
    request = request_submit(requestor=ada, access_package_id=labs_package.pk)
    assert [row.user for row in StageApprover.objects.filter(stage__request=request)] == \
        [lab_lead]


def test_deleting_an_organization_takes_its_guests_out_of_its_scope(world, admin):
    fabrikam = world.outsider.connected_organization
    second = GuestFactory(email="second@fabrikam.example", connected_organization=fabrikam)
    package, _ = _package_for(scope=Scope.ALL_CONFIGURED_CONNECTED_ORG_USERS)
    assert _may_request(world.outsider, package)

    organization_delete(actor=admin, organization_id=fabrikam.pk)

    assert not ConnectedOrganization.objects.filter(pk=fabrikam.pk).exists()
    for guest in (world.outsider, second):
        assert not _may_request(guest, package)
        assert guest.connected_organization is None
    assert _guest_events(fabrikam) == [{"guestsJoined": 0, "guestsLeft": 2}]
    # Its domain is free again: an organization created with it takes the guests back.
    again = _create(admin, "Fabrikam again", "fabrikam.example")
    assert _may_request(world.outsider, package)
    assert _guest_events(again) == [{"guestsJoined": 2, "guestsLeft": 0}]


def test_members_of_an_organizations_domain_are_never_its_guests(world, admin):
    member = UserFactory(email="pat@northwind.example")
    provisioned = person_create(actor=admin, values={"email": "sam@northwind.example"})
    northwind = _create(admin, "Northwind", "northwind.example")
    package, _ = _package_for(northwind)
    for person in (member, provisioned):
        person.refresh_from_db()
        assert (person.user_type, person.connected_organization) == ("member", None)
        assert not _may_request(person, package)

    # A guest who becomes a member leaves their organization; a member who becomes a guest
    # joins their domain's.
    person_update(actor=admin, user_id=world.requester.pk, changes={"user_type": "member"})
    person_update(actor=admin, user_id=member.pk, changes={"user_type": "guest"})

    world.requester.refresh_from_db()
    assert world.requester.connected_organization is None
    assert _may_request(member, package)
    assert member.connected_organization == northwind


def test_a_guest_whose_address_changes_follows_the_new_domain(world, admin):
    fabrikam = world.outsider.connected_organization
    fabrikam_package, _ = _package_for(fabrikam)

    person_update(actor=admin, user_id=world.requester.pk,
                  changes={"email": "requester@fabrikam.example"})

    assert not _may_request(world.requester, world.package)
    assert _may_request(world.requester, fabrikam_package)
    event = AuditEvent.objects.get(action="user.updated", object_id=str(world.requester.pk))
    assert event.before["connected_organization_id"] == world.organization.pk
    assert event.after["connected_organization_id"] == fabrikam.pk
    # A change of the person is the person's event, not the organizations'.
    assert not AuditEvent.objects.filter(action=GUESTS_CHANGED).exists()


def test_one_audit_event_per_organization_counts_the_guests_that_moved(world, admin):
    contoso = world.organization
    _save(admin, contoso, domains=["contoso.example", "contoso-labs.example"])
    assert _guest_events(contoso) == []
    for name in ("ada", "bo", "cy"):
        GuestFactory(email=f"{name}@contoso-labs.example", connected_organization=contoso)

    _save(admin, contoso, domains=["contoso.example"])
    labs = _create(admin, "Contoso Labs", "contoso-labs.example")

    assert _guest_events(contoso) == [{"guestsJoined": 0, "guestsLeft": 3}]
    assert _guest_events(labs) == [{"guestsJoined": 3, "guestsLeft": 0}]
    events = AuditEvent.objects.filter(action=GUESTS_CHANGED)
    assert {event.actor for event in events} == {admin}
    # Renaming moves nobody, and says so by writing no such event.
    _save(admin, labs, display_name="Labs")
    assert events.count() == 2


def test_the_migration_brings_existing_people_to_the_rule(world):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("governance.migrations.0016_guests_follow_their_domains")
    # Rows as the sign-up-time copy left them: a guest kept an organization that lost their
    # domain, a guest came before theirs, a member came to hold one.
    before = GuestFactory(email="kim@fabrikam.example")
    world.requester.connected_organization = world.outsider.connected_organization
    world.requester.save(update_fields=["connected_organization"])
    world.member.connected_organization = world.organization
    world.member.save(update_fields=["connected_organization"])

    migration.guests_follow_their_domains(apps, None)

    for person in (before, world.requester, world.member, world.outsider):
        person.refresh_from_db()
    assert before.connected_organization == world.outsider.connected_organization
    assert world.requester.connected_organization == world.organization
    assert world.member.connected_organization is None
