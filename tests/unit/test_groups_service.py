"""group_create: who may create the portal's groups, the checks, the owner and the audit."""

from governance.choices import CatalogRole, GlobalRole, GroupMembershipRole
from governance.models import AuditEvent, Group
from governance.services.errors import InvalidInput, NotAllowed
from governance.services.groups import group_create, may_create_groups
from tests.factories import UserFactory, role_holder


def test_catalog_owner_creates_a_group_and_owns_it(world):
    group = group_create(actor=world.owner, display_name="  Falcon   editors ",
                         description="Who edits\r\nthe reports \n")
    assert (group.display_name, group.description) == ("Falcon editors",
                                                       "Who edits\nthe reports")
    assert list(group.memberships.values_list("user", "role")) == [
        (world.owner.pk, GroupMembershipRole.OWNER)]
    event = AuditEvent.objects.get(action="group.created")
    assert (event.actor, event.object_type, event.object_id) == (world.owner, "group",
                                                                 str(group.pk))
    assert event.after == {"displayName": "Falcon editors",
                           "description": "Who edits\nthe reports",
                           "owners": ["owner@access.example"]}


def test_names_need_not_be_unique(world):
    first = group_create(actor=world.owner, display_name="Project Falcon")
    assert first.pk != world.group.pk
    assert Group.objects.filter(display_name="Project Falcon").count() == 2


def test_who_may_create_groups(world):
    admin = UserFactory(email="admin@access.example", is_superuser=True)
    creator = UserFactory(email="creator@access.example")
    creator.global_roles.create(role=GlobalRole.CATALOG_CREATOR)
    reader = role_holder(world.catalog, CatalogRole.READER, email="reader@access.example")
    manager = role_holder(world.catalog, CatalogRole.PACKAGE_MANAGER,
                          email="manager@access.example")
    assert [may_create_groups(user) for user in (admin, creator, world.owner)] == [True] * 3
    assert [may_create_groups(user) for user in (reader, manager, world.member,
                                                 world.requester)] == [False] * 4
    assert group_create(actor=creator, display_name="Creators' group").pk


def test_refusals_change_nothing(world, assert_refused):
    assert_refused(lambda: group_create(actor=world.member, display_name="Mine"),
                   NotAllowed, "notGroupCreator", "catalog owners")
    assert_refused(lambda: group_create(actor=world.owner, display_name="   "),
                   InvalidInput, "nameRequired", "name")
    error = assert_refused(lambda: group_create(actor=world.owner, display_name="x" * 201),
                           InvalidInput, "nameTooLong", "200")
    assert error.field == "display_name"
    assert not Group.objects.exclude(pk__in=[world.group.pk, world.other_group.pk]).exists()
