"""The portal's own groups (the directory's, delivered by the local connector).

Creating a group makes its creator an owner, so that they can then offer it in a catalog
(only a group's owners and global administrators may: selectors.catalogs.groups_addable_by).
"""

from django.db import transaction

from governance.choices import GlobalRole, GroupMembershipRole
from governance.models import Group, GroupMembership, User
from governance.selectors.permissions import Capability, can_anywhere, has_global_role
from governance.services.audit import audit_record
from governance.services.errors import NotAllowed
from governance.services.internal.config_checks import clean_name, clean_text, max_length

GROUP_NAME_MAX = max_length(Group, "display_name")


def may_create_groups(user: User) -> bool:
    """Global administrators (and API clients), catalog creators and catalog owners."""
    return (has_global_role(user, GlobalRole.CATALOG_CREATOR)
            or can_anywhere(user, Capability.CATALOG))


def group_create(*, actor: User, display_name: str, description: str = "") -> Group:
    """A new group of the portal, owned by `actor`. Names need not be unique (as in Entra).

    :raises NotAllowed: the actor is no global administrator, catalog creator or owner.
    :raises InvalidInput: no name, or a name too long.
    """
    if not may_create_groups(actor):
        raise NotAllowed("Only global administrators, catalog creators and catalog owners "
                         "create groups.", code="notGroupCreator")
    name = clean_name(display_name, field="display_name", what="group",
                      max_length=GROUP_NAME_MAX)
    with transaction.atomic():
        group = Group.objects.create(display_name=name, description=clean_text(description))
        GroupMembership.objects.create(group=group, user=actor, role=GroupMembershipRole.OWNER)
        audit_record(actor=actor, action="group.created", obj=group,
                     after={"displayName": group.display_name,
                            "description": group.description, "owners": [actor.email]})
    return group
