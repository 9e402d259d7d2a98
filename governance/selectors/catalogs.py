"""Read-side of the package builder: what a person may put into their catalogs."""

from django.db.models import QuerySet

from governance.choices import GroupMembershipRole
from governance.models import Group, User
from governance.selectors.permissions import is_global_admin


def groups_addable_by(user: User) -> QuerySet[Group]:
    """The portal's groups `user` may offer as resources: all for global administrators,
    otherwise the groups they own (a catalog owner cannot hand out a group that is not theirs,
    as in Entra, where adding a resource takes ownership of it)."""
    if is_global_admin(user):
        return Group.objects.all()
    return Group.objects.filter(memberships__user=user,
                                memberships__role=GroupMembershipRole.OWNER).distinct()
