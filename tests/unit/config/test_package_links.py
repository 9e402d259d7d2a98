"""Separation of duties one link at a time: package_incompatible_add/remove and
package_incompatible_group_add/remove. Who may, each refusal (with nothing written), the
links the actor cannot see, and the audit of each change."""

import pytest

from governance.services.errors import InvalidInput, NotAllowed, NotFound
from governance.services.packages import (
    package_incompatible_add,
    package_incompatible_group_add,
    package_incompatible_group_remove,
    package_incompatible_remove,
    package_update,
)
from tests.config_helpers import config_snapshot, events
from tests.factories import GroupFactory, PackageFactory


@pytest.fixture
def osprey(world):
    return PackageFactory(catalog=world.catalog, display_name="Osprey")


def test_a_package_manager_adds_and_removes_an_incompatible_package(world, people, osprey):
    actor = people.package_manager
    assert package_incompatible_add(actor=actor, package_id=world.package.pk,
                                    other_package_id=osprey.pk) is True
    assert list(world.package.incompatible_access_packages.all()) == [osprey]
    [added] = events("accessPackage.incompatiblePackageAdded")
    assert (added.actor, added.object_id, added.after) == (
        actor, str(world.package.pk), {"accessPackage": osprey.pk, "displayName": "Osprey"})

    package_incompatible_remove(actor=actor, package_id=world.package.pk,
                                other_package_id=osprey.pk)
    assert not world.package.incompatible_access_packages.exists()
    [removed] = events("accessPackage.incompatiblePackageRemoved")
    assert removed.before == {"accessPackage": osprey.pk, "displayName": "Osprey"}


def test_adding_a_package_already_marked_changes_nothing(world, osprey):
    world.package.incompatible_access_packages.add(osprey)
    before = config_snapshot()
    assert package_incompatible_add(actor=world.owner, package_id=world.package.pk,
                                    other_package_id=osprey.pk) is False
    assert config_snapshot() == before


def test_an_add_keeps_the_links_already_there(world, people, osprey):
    """What the $ref endpoint lost when it wrote back a list read earlier."""
    finance = PackageFactory(catalog=people.other_catalog, display_name="Finance reports")
    world.package.incompatible_access_packages.add(finance)
    world.package.incompatible_groups.add(world.other_group)
    package_incompatible_add(actor=world.owner, package_id=world.package.pk,
                             other_package_id=osprey.pk)
    assert set(world.package.incompatible_access_packages.all()) == {finance, osprey}
    assert list(world.package.incompatible_groups.all()) == [world.other_group]


def test_incompatible_package_refusals(world, people, osprey, refused):
    finance = PackageFactory(catalog=people.other_catalog, display_name="Finance reports")

    def add(other_id, actor=world.owner):
        return lambda: package_incompatible_add(actor=actor, package_id=world.package.pk,
                                                other_package_id=other_id)

    field = "incompatible_access_packages"
    refused(add(world.package.pk), InvalidInput, "incompatibleWithItself", field, "itself")
    refused(add(finance.pk), InvalidInput, "packageNotFound", field, "no role in")
    refused(add(987654), InvalidInput, "packageNotFound", field)
    refused(lambda: package_incompatible_add(actor=world.owner, package_id=987654,
                                             other_package_id=osprey.pk),
            NotFound, "packageNotFound")
    refused(lambda: package_incompatible_remove(actor=world.owner, package_id=world.package.pk,
                                                other_package_id=osprey.pk),
            NotFound, "packageNotIncompatible", None, "“Falcon collaboration”")


def test_a_link_to_a_package_the_actor_cannot_see_is_not_theirs_to_drop(world, people,
                                                                       refused):
    finance = PackageFactory(catalog=people.other_catalog, display_name="Finance reports")
    world.package.incompatible_access_packages.add(finance)
    refused(lambda: package_incompatible_remove(actor=world.owner, package_id=world.package.pk,
                                                other_package_id=finance.pk),
            NotFound, "packageNotIncompatible")
    package_incompatible_remove(actor=people.admin, package_id=world.package.pk,
                                other_package_id=finance.pk)
    assert not world.package.incompatible_access_packages.exists()


@pytest.mark.parametrize("who", ["assignment_manager", "reader", "other_owner"])
def test_only_owners_and_package_managers_change_the_links(world, people, osprey, refused,
                                                           who):
    actor = getattr(people, who)
    group = GroupFactory(display_name="Auditors")
    world.package.incompatible_access_packages.add(osprey)
    world.package.incompatible_groups.add(world.other_group)
    package_id = world.package.pk
    for action in (
            lambda: package_incompatible_add(actor=actor, package_id=package_id,
                                             other_package_id=osprey.pk),
            lambda: package_incompatible_remove(actor=actor, package_id=package_id,
                                                other_package_id=osprey.pk),
            lambda: package_incompatible_group_add(actor=actor, package_id=package_id,
                                                   group_id=group.pk),
            lambda: package_incompatible_group_remove(actor=actor, package_id=package_id,
                                                      group_id=world.other_group.pk)):
        refused(action, NotAllowed, "notAllowed", None, "change access packages")


def test_an_owner_adds_and_removes_an_incompatible_group(world):
    group = GroupFactory(display_name="Auditors")
    package_id = world.package.pk
    assert package_incompatible_group_add(actor=world.owner, package_id=package_id,
                                          group_id=group.pk) is True
    assert package_incompatible_group_add(actor=world.owner, package_id=package_id,
                                          group_id=group.pk) is False
    assert list(world.package.incompatible_groups.all()) == [group]
    [added] = events("accessPackage.incompatibleGroupAdded")
    assert added.after == {"group": group.pk, "displayName": "Auditors"}

    package_incompatible_group_remove(actor=world.owner, package_id=package_id,
                                      group_id=group.pk)
    assert not world.package.incompatible_groups.exists()
    [removed] = events("accessPackage.incompatibleGroupRemoved")
    assert removed.before == {"group": group.pk, "displayName": "Auditors"}


def test_incompatible_group_refusals(world, refused):
    package_id = world.package.pk
    refused(lambda: package_incompatible_group_add(
        actor=world.owner, package_id=package_id, group_id=987654),
        InvalidInput, "groupNotFound", "incompatible_groups", "group")
    refused(lambda: package_incompatible_group_remove(
        actor=world.owner, package_id=package_id, group_id=world.other_group.pk),
        NotFound, "groupNotIncompatible", None, "“Falcon collaboration”")


def test_an_update_without_link_lists_keeps_the_links(world, osprey):
    """The API's PATCH changes the package's own properties; its links stay as the lock
    finds them."""
    world.package.incompatible_access_packages.add(osprey)
    world.package.incompatible_groups.add(world.other_group)
    package_update(actor=world.owner, package_id=world.package.pk, display_name="Falcon",
                   description="New.", is_hidden=True)
    world.package.refresh_from_db()
    assert (world.package.display_name, world.package.is_hidden) == ("Falcon", True)
    assert list(world.package.incompatible_access_packages.all()) == [osprey]
    assert list(world.package.incompatible_groups.all()) == [world.other_group]
    [changed] = events("accessPackage.changed")
    assert changed.after["incompatibleAccessPackages"] == [osprey.pk]
