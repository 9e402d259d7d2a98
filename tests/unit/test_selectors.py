import pytest

from governance.choices import AllowedTargetScope, CatalogState, ConnectedOrganizationState
from governance.selectors.packages import packages_visible_to, request_options
from governance.services.errors import InvalidInput, OutOfScope
from governance.services.requests import request_submit
from tests.factories import (
    GroupFactory,
    GuestFactory,
    OrganizationFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
)

Scope = AllowedTargetScope


def _package_for(scope, **policy_fields):
    package = PackageFactory(display_name=f"For {scope}")
    policy = PolicyFactory(access_package=package, allowed_target_scope=scope, **policy_fields)
    return package, policy


def _visible(user, package) -> bool:
    return packages_visible_to(user).filter(pk=package.pk).exists()


@pytest.fixture
def people(db):
    partner = OrganizationFactory(display_name="Partner", domain="partner.example")
    proposed = OrganizationFactory(display_name="Proposed",
                                   state=ConnectedOrganizationState.PROPOSED)
    return {
        "member": UserFactory(),
        "partner_guest": GuestFactory(email="g@partner.example", connected_organization=partner),
        "proposed_guest": GuestFactory(email="g@proposed.example",
                                       connected_organization=proposed),
        "lone_guest": GuestFactory(email="g@nowhere.example"),
        "partner": partner,
    }


@pytest.mark.parametrize(("scope", "who_may"), [
    (Scope.NOT_SPECIFIED, set()),
    (Scope.ALL_MEMBER_USERS, {"member"}),
    (Scope.ALL_DIRECTORY_USERS, {"member", "partner_guest", "proposed_guest", "lone_guest"}),
    (Scope.ALL_CONFIGURED_CONNECTED_ORG_USERS, {"partner_guest"}),
    (Scope.ALL_EXTERNAL_USERS, {"partner_guest", "proposed_guest", "lone_guest"}),
])
def test_each_broad_scope_includes_exactly_its_people(people, scope, who_may):
    package, _ = _package_for(scope)
    for name in ("member", "partner_guest", "proposed_guest", "lone_guest"):
        assert _visible(people[name], package) == (name in who_may), name
        assert request_options(people[name], package).allowed == (name in who_may), name


def test_specific_directory_users_include_named_users_and_group_members(people):
    package, policy = _package_for(Scope.SPECIFIC_DIRECTORY_USERS)
    named, in_group, other = UserFactory(), UserFactory(), UserFactory()
    group = GroupFactory()
    group.members.add(in_group)
    policy.specific_users.add(named)
    policy.specific_groups.add(group)
    assert [_visible(user, package) for user in (named, in_group, other)] == [True, True, False]


def test_specific_connected_organizations_include_only_their_guests(people):
    package, policy = _package_for(Scope.SPECIFIC_CONNECTED_ORG_USERS)
    policy.specific_connected_organizations.add(people["partner"])
    assert _visible(people["partner_guest"], package)
    assert not _visible(people["proposed_guest"], package)
    assert not _visible(people["member"], package)


def test_unpublished_catalog_hides_its_packages(people):
    package, _ = _package_for(Scope.ALL_DIRECTORY_USERS)
    package.catalog.state = CatalogState.UNPUBLISHED
    package.catalog.save()
    assert not _visible(people["member"], package)
    assert request_options(people["member"], package).reason == \
        "This access package is not available for requests."


def test_guests_see_only_externally_visible_catalogs(people):
    package, _ = _package_for(Scope.ALL_DIRECTORY_USERS)
    package.catalog.is_externally_visible = False
    package.catalog.save()
    assert _visible(people["member"], package)
    assert not _visible(people["partner_guest"], package)
    assert not request_options(people["partner_guest"], package).allowed


def test_hidden_package_is_not_listed_but_can_be_requested(people):
    package, _ = _package_for(Scope.ALL_MEMBER_USERS)
    package.is_hidden = True
    package.save()
    assert not _visible(people["member"], package)
    assert request_options(people["member"], package).allowed
    request = request_submit(requestor=people["member"], access_package_id=package.pk)
    assert request.assignment is not None


def test_policy_without_self_add_does_not_make_a_package_visible(people):
    package, _ = _package_for(Scope.ALL_MEMBER_USERS, enable_self_add=False)
    assert not _visible(people["member"], package)


def _policies(package, *scopes):
    return [PolicyFactory(access_package=package, allowed_target_scope=scope,
                          display_name=str(scope)) for scope in scopes]


def test_specific_users_beat_all_members_beat_all_users(people):
    member = people["member"]
    package = PackageFactory()
    everyone, members, specific = _policies(package, Scope.ALL_DIRECTORY_USERS,
                                            Scope.ALL_MEMBER_USERS,
                                            Scope.SPECIFIC_DIRECTORY_USERS)
    specific.specific_users.add(member)
    assert request_options(member, package).policies == [specific]
    specific.specific_users.remove(member)
    assert request_options(member, package).policies == [members]
    members.delete()
    assert request_options(member, package).policies == [everyone]


def test_specific_organization_beats_all_users_beats_external(people):
    guest = people["partner_guest"]
    package = PackageFactory()
    external, everyone, specific = _policies(package, Scope.ALL_EXTERNAL_USERS,
                                             Scope.ALL_DIRECTORY_USERS,
                                             Scope.SPECIFIC_CONNECTED_ORG_USERS)
    specific.specific_connected_organizations.add(people["partner"])
    assert request_options(guest, package).policies == [specific]
    assert request_submit(requestor=guest, access_package_id=package.pk).policy == specific
    assert request_options(people["lone_guest"], package).policies == [everyone]
    everyone.delete()
    assert request_options(people["lone_guest"], package).policies == [external]


def test_tie_between_policies_makes_the_requestor_choose(people, assert_refused):
    guest = people["partner_guest"]
    package = PackageFactory()
    configured, external = _policies(package, Scope.ALL_CONFIGURED_CONNECTED_ORG_USERS,
                                     Scope.ALL_EXTERNAL_USERS)
    assert request_options(guest, package).policies == [configured, external]
    assert_refused(lambda: request_submit(requestor=guest, access_package_id=package.pk),
                   InvalidInput, "policyChoiceRequired", "Choose one of the policies",
                   str(configured), str(external))
    request = request_submit(requestor=guest, access_package_id=package.pk,
                             policy_id=external.pk)
    assert request.policy == external


def test_choosing_a_less_specific_policy_is_refused(people, assert_refused):
    member = people["member"]
    package = PackageFactory()
    everyone, members = _policies(package, Scope.ALL_DIRECTORY_USERS, Scope.ALL_MEMBER_USERS)
    assert_refused(lambda: request_submit(requestor=member, access_package_id=package.pk,
                                          policy_id=everyone.pk),
                   OutOfScope, "outOfScope", "does not let you request")
