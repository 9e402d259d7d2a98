"""Access packages and the roles they grant: creating, changing, deleting; roles added to or
removed from held packages are delivered or taken away. Each allowed path, each refusal (with
nothing written), and who may do what."""

import pytest

from governance.choices import (
    AllowedTargetScope,
    AssignmentState,
    DeliveryAction,
    DeliveryState,
    EndReason,
    GroupMembershipRole,
)
from governance.models import (
    AccessPackage,
    AssignmentPolicy,
    GroupMembership,
    RoleDelivery,
)
from governance.services.delivery import deliveries_process
from governance.services.errors import (
    Duplicate,
    InvalidInput,
    InvalidState,
    NotAllowed,
)
from governance.services.expiry import assignments_end
from governance.services.packages import (
    package_create,
    package_delete,
    package_role_add,
    package_role_remove,
    package_update,
)
from governance.services.policies import (
    policy_save,
)
from governance.services.policy_spec import PolicySpec
from governance.services.requests import request_submit
from governance.services.resources import resource_add
from tests.config_helpers import events
from tests.factories import (
    GroupFactory,
    PackageFactory,
    approve_all,
    delivered_assignment,
    group_role,
    submit_request,
)


def test_a_package_manager_creates_a_package_with_separation_of_duties(world, people):
    package = package_create(actor=people.package_manager, catalog_id=world.catalog.pk,
                             display_name="Falcon admins", description="Administrators.",
                             is_hidden=True,
                             incompatible_access_package_ids=[world.package.pk],
                             incompatible_group_ids=[world.other_group.pk])
    assert package.catalog == world.catalog and package.is_hidden
    assert list(package.incompatible_access_packages.all()) == [world.package]
    assert list(package.incompatible_groups.all()) == [world.other_group]
    event = events("accessPackage.created")[0]
    assert event.after["incompatibleAccessPackages"] == [world.package.pk]
    assert event.details == {"catalog": world.catalog.pk}


@pytest.mark.parametrize("who", ["assignment_manager", "reader", "other_owner", "creator"])
def test_only_owners_and_package_managers_change_packages(world, people, refused, who):
    actor = getattr(people, who)
    refused(lambda: package_create(actor=actor, catalog_id=world.catalog.pk,
                                   display_name="Mine"), NotAllowed, "notAllowed")
    refused(lambda: package_update(actor=actor, package_id=world.package.pk,
                                   display_name="Mine", description="", is_hidden=False,
                                   incompatible_access_package_ids=[],
                                   incompatible_group_ids=[]), NotAllowed, "notAllowed")
    refused(lambda: package_delete(actor=actor, package_id=world.package.pk), NotAllowed,
            "notAllowed")
    role = world.package.resource_roles.first()
    refused(lambda: package_role_remove(actor=actor, package_id=world.package.pk,
                                        role_id=role.pk), NotAllowed, "notAllowed")


def test_package_refusals(world, people, refused):
    finance = PackageFactory(catalog=people.other_catalog, display_name="Finance reports")

    def create(**fields):
        return lambda: package_create(**({"actor": world.owner, "catalog_id": world.catalog.pk,
                                           "display_name": "Falcon admins"} | fields))

    refused(create(display_name=""), InvalidInput, "nameRequired", "display_name")
    refused(create(display_name="FALCON collaboration"), InvalidInput, "packageNameTaken",
            "display_name")
    refused(create(incompatible_access_package_ids=[finance.pk]), InvalidInput,
            "packageNotFound", "incompatible_access_packages", "no role in")
    refused(create(incompatible_group_ids=[987654]), InvalidInput, "groupNotFound",
            "incompatible_groups")
    refused(create(catalog_id=None), InvalidInput, "catalogNotFound", "catalog")
    refused(lambda: package_update(actor=world.owner, package_id=world.package.pk,
                                   display_name="Falcon", description="", is_hidden=False,
                                   incompatible_access_package_ids=[world.package.pk],
                                   incompatible_group_ids=[]),
            InvalidInput, "incompatibleWithItself", "incompatible_access_packages")


def test_an_update_keeps_the_incompatibilities_its_author_cannot_see(world, people):
    finance = PackageFactory(catalog=people.other_catalog, display_name="Finance reports")
    world.package.incompatible_access_packages.add(finance)
    package_update(actor=world.owner, package_id=world.package.pk, display_name="Falcon",
                   description="New.", is_hidden=False, incompatible_access_package_ids=[],
                   incompatible_group_ids=[])
    assert list(world.package.incompatible_access_packages.all()) == [finance]
    event = events("accessPackage.changed")[0]
    assert (event.before["displayName"], event.after["displayName"]) == (
        "Falcon collaboration", "Falcon")


def test_a_package_is_deleted_with_its_policies_once_unused(world):
    package = package_create(actor=world.owner, catalog_id=world.catalog.pk,
                             display_name="Draft")
    policy = policy_save(
        actor=world.owner, access_package_id=package.pk,
        spec=PolicySpec(
            display_name="All", allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
            is_approval_required_for_add=False))
    package_delete(actor=world.owner, package_id=package.pk)
    assert not AccessPackage.objects.filter(pk=package.pk).exists()
    assert not AssignmentPolicy.objects.filter(pk=policy.pk).exists()
    assert events("accessPackage.deleted")[0].before["policies"] == ["All"]


def test_a_package_in_use_is_not_deleted(world, refused):
    def delete():
        package_delete(actor=world.owner, package_id=world.package.pk)

    request = submit_request(world)
    refused(delete, InvalidState, "packageHasOpenRequests", None, "open request")
    approve_all(request, world.approver, world.second_approver)
    refused(delete, InvalidState, "packageAssigned", None, "1 person")
    assignments_end(assignment_ids=[request.assignment_id], reason=EndReason.REMOVED_BY_ADMIN)
    refused(delete, InvalidState, "packageHasHistory", None, "hide it")


def test_a_role_of_another_catalog_is_refused(world, people, refused):
    finance = PackageFactory(catalog=people.other_catalog)
    foreign = group_role(finance, GroupFactory(display_name="Ledger"))
    refused(lambda: package_role_add(actor=world.owner, package_id=world.package.pk,
                                     role_id=foreign.pk), InvalidInput, "roleNotInCatalog",
            "resource_roles")
    existing = world.package.resource_roles.first()
    refused(lambda: package_role_add(actor=world.owner, package_id=world.package.pk,
                                     role_id=existing.pk), Duplicate, "roleAlreadyInPackage")


def _member(world, group) -> bool:
    return GroupMembership.objects.filter(group=group, user=world.requester,
                                          role=GroupMembershipRole.MEMBER).exists()


def test_a_role_added_to_a_held_package_is_delivered_to_its_holders(world, people):
    assignment = delivered_assignment(world)
    resource = resource_add(actor=world.owner, catalog_id=world.catalog.pk,
                            group_id=people.owned_group.pk)
    member_role = resource.roles.get(display_name="Member")
    package_role_add(actor=people.package_manager, package_id=world.package.pk,
                     role_id=member_role.pk)
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.DELIVERING
    deliveries_process()
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.DELIVERED and _member(world, people.owned_group)
    assert events("accessPackage.roleAdded")[0].details == {"deliveries": 1}


def test_a_role_removed_from_a_held_package_is_taken_away_unless_granted_elsewhere(world):
    assignment = delivered_assignment(world)
    role = group_role(world.package, world.other_group)
    # Another package of the catalog grants the same group to the same person.
    other = PackageFactory(catalog=world.catalog, display_name="Reports")
    group_role(other, world.other_group)
    policy_save(
        actor=world.owner, access_package_id=other.pk,
        spec=PolicySpec(
            display_name="Partners", allowed_target_scope=AllowedTargetScope.ALL_EXTERNAL_USERS,
            is_approval_required_for_add=False))
    request_submit(requestor=world.requester, access_package_id=other.pk)
    deliveries_process()
    package_role_remove(actor=world.owner, package_id=world.package.pk, role_id=role.pk)
    kept = RoleDelivery.objects.get(assignment=assignment, role=role)
    assert (kept.action, kept.state) == (DeliveryAction.REVOKE, DeliveryState.DONE)
    assert kept.note.startswith("Kept") and _member(world, world.other_group)

    falcon = group_role(world.package, world.group)
    package_role_remove(actor=world.owner, package_id=world.package.pk, role_id=falcon.pk)
    deliveries_process()
    assert not _member(world, world.group)
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.DELIVERED
    # Added back, it is granted again on the same row.
    package_role_add(actor=world.owner, package_id=world.package.pk, role_id=falcon.pk)
    deliveries_process()
    assert _member(world, world.group)
    assert RoleDelivery.objects.get(assignment=assignment, role=falcon).action == "grant"
