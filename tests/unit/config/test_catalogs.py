"""Catalogs and their role holders: who creates, changes, deletes and delegates them. Each allowed
path, each refusal (with nothing written), and who may do what."""

import pytest

from governance.choices import (
    CatalogRole,
    CatalogState,
)
from governance.models import (
    Catalog,
    CatalogRoleAssignment,
    Resource,
    User,
)
from governance.selectors.permissions import Capability, can
from governance.services.catalogs import (
    catalog_create,
    catalog_delete,
    catalog_role_grant,
    catalog_role_revoke,
    catalog_update,
)
from governance.services.errors import (
    Duplicate,
    InvalidInput,
    InvalidState,
    NotAllowed,
    NotFound,
)
from governance.services.resources import resource_add
from tests.config_helpers import events
from tests.factories import (
    UserFactory,
)


def test_a_catalog_creator_creates_a_catalog_and_owns_it_at_once(people):
    creator = people.creator
    assert not can(creator, None, Capability.CATALOG)
    catalog = catalog_create(actor=creator, display_name="  Research   labs ",
                             description="Lab access.\r\nFor researchers.",
                             state=CatalogState.PUBLISHED, is_externally_visible=True)
    assert (catalog.display_name, catalog.description) == ("Research labs",
                                                           "Lab access.\nFor researchers.")
    assert CatalogRoleAssignment.objects.filter(catalog=catalog, user=creator,
                                                role=CatalogRole.OWNER).exists()
    # The same user object (the admin's request.user) sees its new role without a reload.
    assert can(creator, catalog.pk, Capability.CATALOG)
    created, granted = events("catalog.created")[0], events("catalog.roleGranted")[0]
    assert created.actor == creator and created.after == {
        "displayName": "Research labs", "description": "Lab access.\nFor researchers.",
        "state": "published", "isExternallyVisible": True}
    assert granted.after == {"user": creator.email, "role": "catalogOwner"}


def test_a_global_administrator_creates_catalogs(people):
    catalog = catalog_create(actor=people.admin, display_name="Admin catalog")
    assert catalog.state == CatalogState.UNPUBLISHED and not catalog.is_externally_visible
    assert catalog.role_assignments.get().user == people.admin


@pytest.mark.parametrize("who", ["owner", "package_manager", "reader"])
def test_only_catalog_creators_and_global_administrators_create_catalogs(world, people,
                                                                         refused, who):
    actor = world.owner if who == "owner" else getattr(people, who)
    refused(lambda: catalog_create(actor=actor, display_name="Mine"), NotAllowed,
            "notCatalogCreator", None, "catalog creators")


@pytest.mark.parametrize("fields,code,field", [
    ({"display_name": "   "}, "nameRequired", "display_name"),
    ({"display_name": "x" * 201}, "nameTooLong", "display_name"),
    ({"display_name": "projects"}, "catalogNameTaken", "display_name"),
    ({"state": "archived"}, "invalidState", "state"),
])
def test_catalog_fields_are_checked(people, refused, fields, code, field):
    arguments = {"actor": people.creator, "display_name": "Research"} | fields
    refused(lambda: catalog_create(**arguments), InvalidInput, code, field)


def test_the_owner_changes_the_catalog_and_the_change_is_audited(world):
    catalog_update(actor=world.owner, catalog_id=world.catalog.pk, display_name="Projects",
                   description="All projects.", state=CatalogState.UNPUBLISHED,
                   is_externally_visible=True)
    world.catalog.refresh_from_db()
    assert (world.catalog.state, world.catalog.description) == ("unpublished", "All projects.")
    event = events("catalog.changed")[0]
    assert (event.before["state"], event.after["state"]) == ("published", "unpublished")
    # Saving the same values again changes and audits nothing.
    catalog_update(actor=world.owner, catalog_id=world.catalog.pk, display_name="Projects",
                   description="All projects.", state=CatalogState.UNPUBLISHED,
                   is_externally_visible=True)
    assert len(events("catalog.changed")) == 1


@pytest.mark.parametrize("who", ["package_manager", "assignment_manager", "reader",
                                 "other_owner", "creator"])
def test_only_owners_change_delete_and_delegate_a_catalog(world, people, refused, who):
    actor = getattr(people, who)
    catalog_id = world.catalog.pk
    refused(lambda: catalog_update(actor=actor, catalog_id=catalog_id, display_name="Mine",
                                   description="", state=CatalogState.PUBLISHED,
                                   is_externally_visible=False),
            NotAllowed, "notAllowed", None, "Projects")
    refused(lambda: catalog_delete(actor=actor, catalog_id=catalog_id), NotAllowed,
            "notAllowed")
    refused(lambda: catalog_role_grant(actor=actor, catalog_id=catalog_id, user=actor,
                                       role=CatalogRole.OWNER), NotAllowed, "notAllowed")
    refused(lambda: catalog_role_revoke(actor=actor, catalog_id=catalog_id, user=world.owner,
                                        role=CatalogRole.OWNER), NotAllowed, "notAllowed")


def test_a_catalog_with_packages_cannot_be_deleted(world, refused):
    refused(lambda: catalog_delete(actor=world.owner, catalog_id=world.catalog.pk),
            InvalidState, "catalogNotEmpty", None, "Falcon collaboration")


def test_deleting_an_empty_catalog_removes_its_resources_and_roles(people):
    catalog = catalog_create(actor=people.admin, display_name="Short-lived")
    resource_add(actor=people.admin, catalog_id=catalog.pk, group_id=people.owned_group.pk)
    catalog_delete(actor=people.admin, catalog_id=catalog.pk)
    assert not Catalog.objects.filter(pk=catalog.pk).exists()
    assert not Resource.objects.filter(catalog_id=catalog.pk).exists()
    event = events("catalog.deleted")[0]
    assert event.details == {"resources": ["Falcon Engineers"],
                             "roles": [{"user": people.admin.email, "role": "catalogOwner"}]}


def test_the_owner_grants_and_revokes_roles(world, people):
    member = UserFactory(email="new.reader@access.example")
    catalog_role_grant(actor=world.owner, catalog_id=world.catalog.pk, user=member,
                       role=CatalogRole.READER)
    assert can(member, world.catalog.pk, Capability.READ)
    catalog_role_revoke(actor=world.owner, catalog_id=world.catalog.pk, user=member,
                        role=CatalogRole.READER)
    assert not can(User.objects.get(pk=member.pk), world.catalog.pk, Capability.READ)
    granted, revoked = events("catalog.roleGranted")[0], events("catalog.roleRevoked")[0]
    assert granted.after == revoked.before == {"user": member.email, "role": "catalogReader"}
    assert granted.object_type == "catalog" and granted.object_id == str(world.catalog.pk)


def test_an_owner_who_hands_over_loses_the_catalog_at_once(world, people):
    successor = UserFactory(email="successor@access.example")
    catalog_role_grant(actor=world.owner, catalog_id=world.catalog.pk, user=successor,
                       role=CatalogRole.OWNER)
    assert can(world.owner, world.catalog.pk, Capability.CATALOG)
    catalog_role_revoke(actor=world.owner, catalog_id=world.catalog.pk, user=world.owner,
                        role=CatalogRole.OWNER)
    assert not can(world.owner, world.catalog.pk, Capability.READ)


def test_grant_refusals(world, people, refused):
    guest, inactive = world.requester, UserFactory(email="gone@access.example",
                                                   is_active=False)

    def grant(user, role=CatalogRole.READER):
        return lambda: catalog_role_grant(actor=world.owner, catalog_id=world.catalog.pk,
                                          user=user, role=role)

    refused(grant(people.reader), Duplicate, "roleAlreadyHeld", None, "already")
    refused(grant(guest), InvalidInput, "userExternal", "user", "external user")
    refused(grant(inactive), InvalidInput, "userInactive", "user", "disabled")
    refused(grant(people.creator, "catalogAdmin"), InvalidInput, "invalidRole", "role")
    refused(lambda: catalog_role_grant(actor=world.owner, catalog_id=999999, user=guest,
                                       role=CatalogRole.READER), NotFound, "catalogNotFound")


def test_the_last_owner_stays(world, people, refused):
    refused(lambda: catalog_role_revoke(actor=world.owner, catalog_id=world.catalog.pk,
                                        user=world.owner, role=CatalogRole.OWNER),
            InvalidState, "lastOwner", None, "last owner")
    refused(lambda: catalog_role_revoke(actor=people.admin, catalog_id=world.catalog.pk,
                                        user=world.owner, role=CatalogRole.OWNER),
            InvalidState, "lastOwner")
    refused(lambda: catalog_role_revoke(actor=world.owner, catalog_id=world.catalog.pk,
                                        user=people.creator, role=CatalogRole.READER),
            NotFound, "roleNotHeld")
