"""Configuration changes racing with each other and with deliveries."""

import pytest

from governance.choices import CatalogRole, DeliveryAction
from governance.models import Assignment, CatalogRoleAssignment, RoleDelivery
from governance.services.catalogs import catalog_role_grant, catalog_role_revoke
from governance.services.errors import InvalidState
from governance.services.packages import package_role_add, package_role_remove
from governance.services.requests import request_submit
from governance.services.resources import resource_add
from tests.concurrency.race import raise_unexpected, run_together
from tests.factories import GroupFactory, UserFactory, open_package

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROUNDS = 20


def new_role(world, admin, round_number: int):
    """The Member role of a new group, offered in the world's catalog."""
    group = GroupFactory(display_name=f"Wiki editors {round_number}")
    return resource_add(actor=admin, catalog_id=world.catalog.pk,
                        group_id=group.pk).roles.get(display_name="Member")


def three_requests(package, round_number: int):
    """Three new people, and a call for each that requests `package`."""
    people = [UserFactory(email=f"reader{round_number}.{n}@access.example") for n in range(3)]
    calls = [lambda person=person: request_submit(requestor=person,
                                                  access_package_id=package.pk)
             for person in people]
    return people, calls


def test_a_role_added_while_people_get_the_package_reaches_every_assignment(world):
    """package_role_add locks the package row FOR UPDATE; the insert of a new assignment
    takes a key-share lock on the same row (its foreign key). Whichever comes second waits,
    then sees the other: either the new assignment is among the holders the role is
    delivered to, or delivery_start finds the role among the package's roles."""
    package, _ = open_package(world)
    admin = UserFactory(email="admin@access.example", is_superuser=True)
    for round_number in range(ROUNDS):
        role = new_role(world, admin, round_number)
        people, calls = three_requests(package, round_number)
        calls.append(lambda role=role: package_role_add(actor=world.owner,
                                                        package_id=package.pk,
                                                        role_id=role.pk))
        raise_unexpected(run_together(*calls))
        for person in people:
            assignment = Assignment.objects.get(target=person, access_package=package)
            assert RoleDelivery.objects.filter(assignment=assignment, role=role).count() == 1


def test_a_role_removed_while_people_get_the_package_is_granted_to_nobody(world):
    package, _ = open_package(world)
    admin = UserFactory(email="admin@access.example", is_superuser=True)
    for round_number in range(ROUNDS):
        role = new_role(world, admin, round_number)
        package_role_add(actor=world.owner, package_id=package.pk, role_id=role.pk)
        people, calls = three_requests(package, round_number)
        calls.append(lambda role=role: package_role_remove(actor=world.owner,
                                                           package_id=package.pk,
                                                           role_id=role.pk))
        raise_unexpected(run_together(*calls))
        assert not RoleDelivery.objects.filter(
            assignment__target__in=people, role=role, action=DeliveryAction.GRANT).exists()


def test_two_owners_removing_each_other_at_once_leave_one_owner(world):
    for round_number in range(ROUNDS):
        other = UserFactory(email=f"co.owner{round_number}@access.example")
        catalog_role_grant(actor=world.owner, catalog_id=world.catalog.pk, user=other,
                           role=CatalogRole.OWNER)

        outcomes = run_together(
            lambda: catalog_role_revoke(actor=world.owner, catalog_id=world.catalog.pk,
                                        user=world.owner, role=CatalogRole.OWNER),
            lambda other=other: catalog_role_revoke(actor=other, catalog_id=world.catalog.pk,
                                                    user=other, role=CatalogRole.OWNER))

        refused = [outcome.error for outcome in outcomes if not outcome.ok]
        assert len(refused) == 1 and isinstance(refused[0], InvalidState), refused
        assert refused[0].code == "lastOwner"
        owners = list(CatalogRoleAssignment.objects.filter(catalog=world.catalog,
                                                           role=CatalogRole.OWNER))
        assert len(owners) == 1
        # Back to the world's owner for the next round.
        if owners[0].user_id != world.owner.pk:
            catalog_role_grant(actor=other, catalog_id=world.catalog.pk, user=world.owner,
                               role=CatalogRole.OWNER)
            catalog_role_revoke(actor=world.owner, catalog_id=world.catalog.pk, user=other,
                                role=CatalogRole.OWNER)
