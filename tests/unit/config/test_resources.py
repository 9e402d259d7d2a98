"""Resources offered in a catalog: adding, renaming and removing them. Each allowed path, each
refusal (with nothing written), and who may do what."""



from governance.choices import (
    EndReason,
    GroupMembershipRole,
)
from governance.models import (
    GroupMembership,
    Resource,
)
from governance.services.errors import (
    InvalidInput,
    InvalidState,
    NotAllowed,
)
from governance.services.expiry import assignments_end
from governance.services.packages import package_role_remove
from governance.services.resources import resource_add, resource_remove, resource_update
from tests.config_helpers import events
from tests.factories import (
    GroupFactory,
    delivered_assignment,
    group_role,
)


def test_an_owner_offers_a_group_they_own_with_its_member_and_owner_roles(world, people):
    group = people.owned_group
    resource = resource_add(actor=world.owner, catalog_id=world.catalog.pk, group_id=group.pk)
    assert (resource.display_name, resource.origin_system, resource.origin_id,
            resource.connector) == ("Falcon Engineers", "AadGroup", str(group.pk), "local")
    assert sorted(resource.roles.values_list("display_name", "origin_id")) == [
        ("Member", f"Member_{group.pk}"), ("Owner", f"Owner_{group.pk}")]
    event = events("resource.added")[0]
    assert event.after["roles"] == [f"Member_{group.pk}", f"Owner_{group.pk}"]


def test_a_global_administrator_offers_any_group(world, people):
    group = GroupFactory(display_name="Payroll")
    resource = resource_add(actor=people.admin, catalog_id=world.catalog.pk, group_id=group.pk,
                            display_name="Payroll (read)")
    assert resource.display_name == "Payroll (read)"


def test_resource_refusals(world, people, refused):
    def add(actor, group):
        return lambda: resource_add(actor=actor, catalog_id=world.catalog.pk,
                                    group_id=group.pk if group else None)

    refused(add(world.owner, GroupFactory(display_name="Payroll")), InvalidInput,
            "groupNotOwned", "group", "Payroll")
    refused(add(people.admin, world.group), InvalidInput, "resourceExists", "group",
            "Project Falcon")
    refused(add(world.owner, None), InvalidInput, "groupNotFound", "group")
    # Resources are the owners': package managers build packages from them.
    GroupMembership.objects.create(group=people.owned_group, user=people.package_manager,
                                   role=GroupMembershipRole.OWNER)
    refused(add(people.package_manager, people.owned_group), NotAllowed, "notAllowed")
    refused(lambda: resource_add(actor=world.owner, catalog_id=people.other_catalog.pk,
                                 group_id=people.owned_group.pk), NotAllowed, "notAllowed")


def test_a_resource_is_removed_once_no_package_grants_its_roles(world, people, refused):
    resource = Resource.objects.get(catalog=world.catalog, origin_id=str(world.group.pk))
    refused(lambda: resource_remove(actor=world.owner, resource_id=resource.pk), InvalidState,
            "resourceInUse", None, "Falcon collaboration")
    unused = resource_add(actor=world.owner, catalog_id=world.catalog.pk,
                          group_id=people.owned_group.pk)
    resource_remove(actor=world.owner, resource_id=unused.pk)
    assert not Resource.objects.filter(pk=unused.pk).exists()
    assert events("resource.removed")[0].before["displayName"] == "Falcon Engineers"


def test_an_owner_renames_a_resource(world, people, refused):
    resource = Resource.objects.get(catalog=world.catalog, origin_id=str(world.group.pk))
    resource_update(actor=world.owner, resource_id=resource.pk, display_name="Falcon team",
                    description="The project's people.")
    resource.refresh_from_db()
    assert (resource.display_name, resource.origin_id) == ("Falcon team", str(world.group.pk))
    event = events("resource.changed")[0]
    assert (event.before["displayName"], event.after["displayName"]) == ("Project Falcon",
                                                                         "Falcon team")
    refused(lambda: resource_update(actor=world.owner, resource_id=resource.pk,
                                    display_name=" ", description=""), InvalidInput,
            "nameRequired", "display_name")
    refused(lambda: resource_update(actor=people.package_manager, resource_id=resource.pk,
                                    display_name="Mine", description=""), NotAllowed,
            "notAllowed")


def test_a_resource_whose_roles_were_delivered_stays(world, refused):
    assignment = delivered_assignment(world)
    role = group_role(world.package, world.group)
    assignments_end(assignment_ids=[assignment.pk], reason=EndReason.REMOVED_BY_ADMIN)
    package_role_remove(actor=world.owner, package_id=world.package.pk, role_id=role.pk)
    refused(lambda: resource_remove(actor=world.owner, resource_id=role.resource_id),
            InvalidState, "resourceHasHistory", None, "delivered")
