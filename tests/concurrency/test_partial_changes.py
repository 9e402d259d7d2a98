"""Two PATCHes of different parts of one policy, package or connected organization, at the
same moment: both changes hold.

A PATCH used to fill what its body leaves out from the row as read before the service took
its lock, and hand the service the whole object back; two PATCHes that read before either
wrote kept only the last one's change. Now the body is read over the object as it is under
the lock (policy_update, organization_update), or the service keeps what it is not given
(package_update).
"""

import threading
from dataclasses import replace

import pytest
from rest_framework.test import APIClient

from governance.choices import GlobalRole
from governance.models import AssignmentPolicy, ConnectedOrganization, GlobalRoleAssignment
from governance.services.api_tokens import personal_token_create
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec
from tests.concurrency.race import raise_unexpected, run_together
from tests.factories import PackageFactory, UserFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROUNDS = 20
EM = "/v1.0/identityGovernance/entitlementManagement"


def _clients(user, count: int = 2) -> list[APIClient]:
    clients = []
    for number in range(count):
        _token, raw = personal_token_create(user=user, name=f"race {number}")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        clients.append(client)
    return clients


def _patched(client, url: str, body: dict):
    def call():
        response = client.patch(url, body, format="json")
        assert response.status_code == 204, (response.status_code, response.content[:300])
    return call


def test_without_the_lock_two_policy_changes_lose_one(world):
    """The race policy_update closes, replayed as the PATCH ran it: both read the policy,
    then each writes it back whole with its own change."""
    both_read = threading.Barrier(2, timeout=30)

    def change_whole(**change) -> None:
        current = PolicySpec.of(AssignmentPolicy.objects.get(pk=world.policy.pk))  # no lock
        both_read.wait()
        policy_save(actor=world.owner, policy_id=world.policy.pk, access_package_id=None,
                    spec=replace(current, **change))

    raise_unexpected(run_together(lambda: change_whole(description="Changed"),
                                  lambda: change_whole(allow_custom_schedule=True)))

    world.policy.refresh_from_db()
    assert [world.policy.description == "Changed", world.policy.allow_custom_schedule] \
        .count(True) == 1


def test_two_patches_of_one_policy_both_hold(world):
    clients = _clients(world.owner)
    url = f"{EM}/assignmentPolicies/{world.policy.pk}"
    for round_number in range(ROUNDS):
        schedule = round_number % 2 == 0
        raise_unexpected(run_together(
            _patched(clients[0], url, {"description": f"Round {round_number}."}),
            _patched(clients[1], url, {"requestorSettings": {
                "allowCustomAssignmentSchedule": schedule}})))
        world.policy.refresh_from_db()
        assert (world.policy.description, world.policy.allow_custom_schedule) == (
            f"Round {round_number}.", schedule), f"round {round_number}"


def test_two_patches_of_one_package_both_hold(world):
    clients = _clients(world.owner)
    for round_number in range(ROUNDS):
        package = PackageFactory(catalog=world.catalog, display_name=f"Falcon {round_number}")
        url = f"{EM}/accessPackages/{package.pk}"
        raise_unexpected(run_together(
            _patched(clients[0], url, {"description": f"Round {round_number}."}),
            _patched(clients[1], url, {"isHidden": True})))
        package.refresh_from_db()
        assert (package.description, package.is_hidden) == (
            f"Round {round_number}.", True), f"round {round_number}"


def test_two_patches_of_one_connected_organization_both_hold(world):
    administrator = UserFactory(email="orgs@access.example")
    GlobalRoleAssignment.objects.create(user=administrator, role=GlobalRole.CONNECTED_ORG_ADMIN)
    clients = _clients(administrator)
    url = f"{EM}/connectedOrganizations/{world.organization.pk}"
    for round_number in range(ROUNDS):
        raise_unexpected(run_together(
            _patched(clients[0], url, {"description": f"Round {round_number}."}),
            _patched(clients[1], url, {"displayName": f"Contoso {round_number}"})))
        organization = ConnectedOrganization.objects.get(pk=world.organization.pk)
        assert (organization.description, organization.display_name) == (
            f"Round {round_number}.", f"Contoso {round_number}"), f"round {round_number}"
