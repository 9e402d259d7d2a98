"""Separation of duties changed by reference ($ref) at the same moment: no link is lost.

The $ref endpoints used to read the package's links outside the service's lock and hand
package_update the whole list back; two adds that read before either wrote kept only the
last one. Each call now adds or removes one link under the package's lock.
"""

import threading

import pytest
from rest_framework.test import APIClient

from governance.models import AccessPackage
from governance.services.api_tokens import personal_token_create
from governance.services.packages import package_update
from tests.concurrency.race import raise_unexpected, run_together
from tests.factories import GroupFactory, PackageFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROUNDS = 50
PACKAGES = "/v1.0/identityGovernance/entitlementManagement/accessPackages"
GRAPH = "https://graph.microsoft.com/v1.0"


def _package_ref(package: AccessPackage) -> dict:
    return {"@odata.id": f"{GRAPH}/identityGovernance/entitlementManagement/accessPackages/"
                         f"{package.pk}"}


def _group_ref(group) -> dict:
    return {"@odata.id": f"{GRAPH}/groups/{group.pk}"}


def _sent(client, method: str, url: str, body: dict | None = None):
    """A call for run_together: one request, refused unless the API answers 204."""
    def call():
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 204, (response.status_code, response.content[:300])
    return call


def _linked(package: AccessPackage) -> set[int]:
    return set(package.incompatible_access_packages.values_list("pk", flat=True))


def _linked_groups(package: AccessPackage) -> set[int]:
    return set(package.incompatible_groups.values_list("pk", flat=True))


@pytest.fixture
def owners(world):
    """Two API callers acting for the catalog's owner, each with its own client and token."""
    clients = []
    for name in ("first", "second"):
        _token, raw = personal_token_create(user=world.owner, name=f"{name} race")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        clients.append(client)
    return clients


def test_without_the_package_lock_two_adds_lose_one(world):
    """The race the one-link services close, replayed as the $ref endpoints ran it: both read
    the current list, then each writes it back whole with its own package added."""
    first = PackageFactory(catalog=world.catalog, display_name="Osprey")
    second = PackageFactory(catalog=world.catalog, display_name="Kestrel")
    both_read = threading.Barrier(2, timeout=30)

    def add_by_whole_list(other: AccessPackage) -> None:
        package = AccessPackage.objects.get(pk=world.package.pk)  # no lock
        current = list(package.incompatible_access_packages.values_list("pk", flat=True))
        both_read.wait()
        package_update(actor=world.owner, package_id=package.pk,
                       display_name=package.display_name, description=package.description,
                       is_hidden=package.is_hidden,
                       incompatible_access_package_ids=[*current, other.pk],
                       incompatible_group_ids=[])

    raise_unexpected(run_together(lambda: add_by_whole_list(first),
                                  lambda: add_by_whole_list(second)))

    assert len(_linked(world.package)) == 1


def test_two_packages_added_at_once_are_both_kept(world, owners):
    first = PackageFactory(catalog=world.catalog, display_name="Osprey")
    second = PackageFactory(catalog=world.catalog, display_name="Kestrel")
    for round_number in range(ROUNDS):
        package = PackageFactory(catalog=world.catalog, display_name=f"Falcon {round_number}")
        refs = f"{PACKAGES}/{package.pk}/incompatibleAccessPackages/$ref"
        raise_unexpected(run_together(_sent(owners[0], "post", refs, _package_ref(first)),
                                      _sent(owners[1], "post", refs, _package_ref(second))))
        assert _linked(package) == {first.pk, second.pk}, f"round {round_number}"


def test_two_groups_added_at_once_are_both_kept(world, owners):
    first, second = GroupFactory(display_name="Auditors"), GroupFactory(display_name="Payroll")
    for round_number in range(ROUNDS):
        package = PackageFactory(catalog=world.catalog, display_name=f"Falcon {round_number}")
        refs = f"{PACKAGES}/{package.pk}/incompatibleGroups/$ref"
        raise_unexpected(run_together(_sent(owners[0], "post", refs, _group_ref(first)),
                                      _sent(owners[1], "post", refs, _group_ref(second))))
        assert _linked_groups(package) == {first.pk, second.pk}, f"round {round_number}"


def test_an_add_beside_a_remove_keeps_the_one_and_drops_the_other(world, owners):
    kept, dropped = (PackageFactory(catalog=world.catalog, display_name=name)
                     for name in ("Osprey", "Kestrel"))
    for round_number in range(ROUNDS):
        package = PackageFactory(catalog=world.catalog, display_name=f"Falcon {round_number}")
        package.incompatible_access_packages.add(dropped)
        links = f"{PACKAGES}/{package.pk}/incompatibleAccessPackages"
        raise_unexpected(run_together(
            _sent(owners[0], "post", f"{links}/$ref", _package_ref(kept)),
            _sent(owners[1], "delete", f"{links}/{dropped.pk}/$ref")))
        assert _linked(package) == {kept.pk}, f"round {round_number}"


def test_an_add_beside_a_change_of_the_description_is_kept(world, owners):
    """PATCH of the package's own properties leaves its links to the lock holder."""
    other = PackageFactory(catalog=world.catalog, display_name="Osprey")
    for round_number in range(ROUNDS):
        package = PackageFactory(catalog=world.catalog, display_name=f"Falcon {round_number}")
        raise_unexpected(run_together(
            _sent(owners[0], "post",
                  f"{PACKAGES}/{package.pk}/incompatibleAccessPackages/$ref",
                  _package_ref(other)),
            _sent(owners[1], "patch", f"{PACKAGES}/{package.pk}",
                  {"description": f"Round {round_number}."})))
        package.refresh_from_db()
        assert (_linked(package), package.description) == (
            {other.pk}, f"Round {round_number}."), f"round {round_number}"
