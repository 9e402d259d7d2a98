"""explain_policies: for a person and a package, each policy's verdict and its reasons in
plain words, decided by the same rules as requests (governance.selectors.packages)."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.utils import timezone

from governance.choices import (
    AccountState,
    AllowedTargetScope,
    CatalogState,
    ConnectedOrganizationState,
    ExpirationType,
    GroupMembershipRole,
)
from governance.models import Catalog, GroupMembership, User
from governance.selectors.packages import request_options
from governance.selectors.policy_explanations import explain_policies
from governance.services.requests import request_admin_add
from tests.factories import (
    GroupFactory,
    GuestFactory,
    OrganizationFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    submit_request,
)

Scope = AllowedTargetScope
NOW = datetime(2026, 6, 17, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def bob(world):
    """A guest of Fabrikam (a configured organisation no policy names)."""
    return GuestFactory(email="bob@fabrikam.example", display_name="Bob Builder",
                        connected_organization=world.outsider.connected_organization)


@pytest.fixture
def member(world):
    return UserFactory(email="mia@access.example", display_name="Mia Member")


@pytest.fixture
def package(world):
    return PackageFactory(catalog=world.catalog, display_name="Falcon wiki")


def policy(package, name, scope, **fields):
    return PolicyFactory(access_package=package, display_name=name, allowed_target_scope=scope,
                         **fields)


def verdicts(explanation) -> dict[str, tuple[bool, list[str]]]:
    return {str(item.policy): (item.applies, item.reasons) for item in explanation.policies}


def test_members_policy_names_the_guest(bob, package):
    policy(package, "Members", Scope.ALL_MEMBER_USERS)
    explanation = explain_policies(bob, package)
    assert verdicts(explanation) == {
        "Members": (False, ["This policy is for members; Bob Builder is a guest."])}
    assert explanation.reasons == []
    assert not explanation.can_request


def test_external_policy_names_the_member(member, package):
    policy(package, "Partners", Scope.ALL_EXTERNAL_USERS)
    assert verdicts(explain_policies(member, package)) == {
        "Partners": (False, ["This policy is for external users; Mia Member is a member."])}


def test_specific_organisation_policy_names_theirs_and_the_guests(world, bob, package):
    partners = policy(package, "Contoso", Scope.SPECIFIC_CONNECTED_ORG_USERS)
    partners.specific_connected_organizations.add(
        OrganizationFactory(display_name="Contoso Partners"))
    loner = GuestFactory(email="lone@nowhere.example", display_name="Lone Guest")
    assert verdicts(explain_policies(bob, package))["Contoso"] == (False, [
        "This policy is for users of Contoso Partners; Bob Builder's organisation is "
        "Fabrikam."])
    assert verdicts(explain_policies(loner, package))["Contoso"] == (False, [
        "This policy is for users of Contoso Partners; Lone Guest has no connected "
        "organisation."])


def test_configured_organisations_policy_and_a_proposed_one(bob, package):
    policy(package, "Configured partners", Scope.ALL_CONFIGURED_CONNECTED_ORG_USERS)
    proposed = OrganizationFactory(display_name="Contoso Partners",
                                   state=ConnectedOrganizationState.PROPOSED)
    newcomer = GuestFactory(email="nia@proposed.example", display_name="Nia New",
                            connected_organization=proposed)
    assert verdicts(explain_policies(newcomer, package)) == {"Configured partners": (False, [
        "This policy is for configured connected organisations; Contoso Partners is only "
        "proposed."])}
    # A guest of a configured organisation (Fabrikam) is in its scope.
    assert verdicts(explain_policies(bob, package)) == {"Configured partners": (True, [])}


def test_specific_people_and_groups(world, member, package):
    chosen = policy(package, "Falcon team", Scope.SPECIFIC_DIRECTORY_USERS)
    team = GroupFactory(display_name="Falcon team")
    chosen.specific_groups.add(team)
    assert verdicts(explain_policies(member, package)) == {"Falcon team": (False, [
        "This policy is for specific people and groups; Mia Member is not one of them."])}
    GroupMembership.objects.create(group=team, user=member, role=GroupMembershipRole.MEMBER)
    assert verdicts(explain_policies(member, package)) == {"Falcon team": (True, [])}


def test_ended_policy_says_when(member, package):
    policy(package, "Last spring", Scope.ALL_DIRECTORY_USERS,
           expiration_type=ExpirationType.AFTER_DATETIME,
           expiration_end_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC), expiration_duration=None)
    assert verdicts(explain_policies(member, package)) == {
        "Last spring": (False, ["Requests under this policy ended on 1 March 2026."])}


def test_self_add_disabled(member, package):
    policy(package, "Assigned", Scope.ALL_DIRECTORY_USERS, enable_self_add=False)
    policy(package, "By managers", Scope.ALL_DIRECTORY_USERS, enable_self_add=False,
           enable_on_behalf_of_direct_reports=True)
    assert verdicts(explain_policies(member, package)) == {
        "Assigned": (False, ["People cannot request it themselves: administrators assign it."]),
        "By managers": (False, ["People cannot request it themselves: their manager may "
                                "request it for them."])}


def test_the_more_specific_policy_goes_first_as_requests_choose(world, member, package):
    chosen = policy(package, "Falcon team", Scope.SPECIFIC_DIRECTORY_USERS)
    chosen.specific_users.add(member)
    policy(package, "Everyone", Scope.ALL_DIRECTORY_USERS)
    assert verdicts(explain_policies(member, package)) == {
        "Everyone": (False, ["A more specific policy of this package (“Falcon team”) applies "
                             "to Mia Member first."]),
        "Falcon team": (True, [])}
    assert request_options(member, package).policies == [chosen]


def test_a_policy_that_applies_agrees_with_request_options(member, package):
    everyone = policy(package, "Everyone", Scope.ALL_DIRECTORY_USERS)
    explanation = explain_policies(member, package)
    assert explanation.can_request
    assert [item.policy for item in explanation.policies if item.applies] == \
        request_options(member, package).policies == [everyone]


def test_active_assignment(world, member, package):
    everyone = policy(package, "Everyone", Scope.ALL_DIRECTORY_USERS)
    request_admin_add(actor=world.owner, access_package_id=package.pk, policy_id=everyone.pk,
                      target=member)
    explanation = explain_policies(member, package)
    assert explanation.reasons == [
        "Mia Member already holds “Falcon wiki”: it can be extended, not requested again."]
    assert not explanation.can_request
    assert verdicts(explanation) == {"Everyone": (True, [])}


def test_open_request(world):
    submit_request(world)
    explanation = explain_policies(world.requester, world.package)
    assert explanation.reasons == [
        f"{world.requester} already has an open request for “Falcon collaboration” "
        f"(submitted 17 June 2026)."]
    assert verdicts(explanation) == {"Contoso partners": (True, [])}


def test_separation_of_duties(world, member, package):
    everyone = policy(package, "Everyone", Scope.ALL_DIRECTORY_USERS)
    auditing = PackageFactory(catalog=world.catalog, display_name="Audit")
    audit_policy = policy(auditing, "Auditors", Scope.ALL_DIRECTORY_USERS)
    auditing.incompatible_access_packages.add(package)
    request_admin_add(actor=world.owner, access_package_id=package.pk, policy_id=everyone.pk,
                      target=member)
    explanation = explain_policies(member, auditing)
    assert explanation.reasons == [
        "“Audit” cannot be held together with “Falcon wiki”, which is already assigned. "
        "That access must be removed first."]
    assert verdicts(explanation) == {str(audit_policy): (True, [])}


def test_blocked_and_deactivated_and_deleted_accounts(bob, member, package):
    policy(package, "Everyone", Scope.ALL_DIRECTORY_USERS)
    User.objects.filter(pk=bob.pk).update(account_state=AccountState.BLOCKED, is_active=False,
                                          blocked_at=timezone.now())
    assert explain_policies(bob, package).reasons == [
        "Bob Builder's account is blocked: they cannot sign in to request access."]
    User.objects.filter(pk=member.pk).update(is_active=False, deactivated_at=timezone.now())
    assert explain_policies(member, package).reasons == [
        "Mia Member's account is deactivated: they cannot sign in to request access."]
    User.objects.filter(pk=member.pk).update(account_state=AccountState.DELETED)
    assert explain_policies(member, package).reasons == ["Mia Member's account was deleted."]


def test_catalog_not_published_and_not_external(world, bob, member, package):
    policy(package, "Everyone", Scope.ALL_DIRECTORY_USERS)
    Catalog.objects.filter(pk=world.catalog.pk).update(is_externally_visible=False)
    assert explain_policies(bob, package).reasons == [
        "The catalog “Projects” is not visible to external users; Bob Builder is a guest."]
    assert explain_policies(member, package).reasons == []
    Catalog.objects.filter(pk=world.catalog.pk).update(state=CatalogState.UNPUBLISHED)
    assert explain_policies(member, package).reasons == [
        "The catalog “Projects” is not published: none of its packages can be requested."]


# The people, the package, its flags and policies, an assignment, a request, two for
# separation of duties: however many policies the package has.
QUERIES = 9


@pytest.mark.parametrize("count", [1, 5])
def test_queries_do_not_grow_with_policies(world, bob, package, count,
                                           django_assert_num_queries):
    for n in range(count):
        partners = policy(package, f"Partners {n}", Scope.SPECIFIC_CONNECTED_ORG_USERS)
        partners.specific_connected_organizations.add(world.organization)
    with django_assert_num_queries(QUERIES):
        explanation = explain_policies(bob, package)
    assert len(explanation.policies) == count
    assert all(not item.applies for item in explanation.policies)


# Automatic policies: the rule's comparison that failed, with the person's value


def _automatic(world, rule: str, **fields):
    from governance.services.policies import policy_save
    from governance.services.policy_spec import PolicySpec

    package = PackageFactory(catalog=world.catalog, display_name="Sales workspace")
    policy = policy_save(actor=world.owner, access_package_id=package.pk, spec=PolicySpec(
        display_name="Everyone in Sales", is_automatic=True, membership_rule=rule, **fields))
    return package, policy


def test_an_automatic_policy_names_the_attribute_that_failed(world):
    person = UserFactory(email="fin@access.example", display_name="Fin Ance",
                         department="Finance", job_title="Analyst")
    package, policy = _automatic(
        world, 'user.department -eq "Sales" -and user.jobTitle -startsWith "Account"')
    [item] = explain_policies(person, package).policies
    assert not item.applies
    assert item.reasons == [
        'Its membership rule does not match Fin Ance: user.department is “Finance”; the rule '
        'asks -eq "Sales" (column 1).',
        'Its membership rule does not match Fin Ance: user.jobTitle is “Analyst”; the rule '
        'asks -startsWith "Account" (column 34).']
    assert not explain_policies(person, package).can_request


def test_an_automatic_policy_that_matches_applies_but_is_not_requested(world):
    person = UserFactory(email="sal@access.example", department="Sales")
    package, policy = _automatic(world, 'user.department -in ["Sales", "Marketing"] -and '
                                        '-not (user.jobTitle -eq "Intern")')
    explanation = explain_policies(person, package)
    assert [item.applies for item in explanation.policies] == [True]
    assert not explanation.can_request  # no one requests under an automatic policy
    person.job_title = "Intern"
    person.save()
    [item] = explain_policies(person, package).policies
    assert item.reasons == ['Its membership rule does not match Sal: the part after -not '
                            'matches them: user.jobTitle is “Intern”, and the rule asks -eq '
                            '"Intern" (column 55).']
