"""Resources of a catalog: the portal's own groups, with their Member and Owner roles, offered
by the catalog owners (Capability.CATALOG); renamed, and removed once no package grants
their roles and nothing was delivered from them."""

from collections.abc import Iterable

from django.db import transaction

from governance.choices import (
    GroupMembershipRole,
    OriginSystem,
)
from governance.models import (
    AccessPackage,
    Catalog,
    Group,
    Resource,
    ResourceRole,
    RoleDelivery,
    User,
)
from governance.selectors.catalogs import groups_addable_by
from governance.selectors.permissions import Capability
from governance.services.audit import audit_record
from governance.services.errors import InvalidInput, InvalidState
from governance.services.internal.config_checks import (
    clean_name,
    clean_text,
    max_length,
    require,
)
from governance.services.internal.guards import catalog_locked, locked_under_parent

RESOURCE_NAME_MAX = max_length(Resource, "display_name")
# The roles a group offers, as Entra names them; origin ids are "<role>_<group id>".
GROUP_ROLES = (GroupMembershipRole.MEMBER, GroupMembershipRole.OWNER)


def _names(values: Iterable[str], limit: int = 3) -> str:
    values = list(values)
    shown = ", ".join(f"“{value}”" for value in values[:limit])
    return shown + (" and others" if len(values) > limit else "")




def _lock_resource(resource_id: int) -> Resource:
    return locked_under_parent(Resource, resource_id, "catalog", catalog_locked,
                               "This resource does not exist.", code="resourceNotFound")


def _resource_snapshot(resource: Resource) -> dict:
    return {"displayName": resource.display_name, "originSystem": resource.origin_system,
            "originId": resource.origin_id, "connector": resource.connector,
            "roles": sorted(resource.roles.values_list("origin_id", flat=True))}


def resource_add(*, actor: User, catalog_id: int, group_id: int | None, display_name: str = "",
                 description: str = "") -> Resource:
    """Offer one of the portal's groups in the catalog, with its Member and Owner roles.

    :raises NotAllowed: the actor does not own the catalog.
    :raises InvalidInput: no such group, a group the actor may not hand out, or one the
        catalog offers already.
    """
    with transaction.atomic():
        catalog = catalog_locked(catalog_id)
        require(actor, catalog, Capability.CATALOG, "add resources")
        group = Group.objects.filter(pk=group_id).first() if group_id else None
        if group is None:
            raise InvalidInput("Choose the group to offer.", field="group",
                               code="groupNotFound")
        if not groups_addable_by(actor).filter(pk=group.pk).exists():
            raise InvalidInput(f"You are not an owner of the group “{group}”; only its owners "
                               "and global administrators can offer it in a catalog.",
                               field="group", code="groupNotOwned")
        existing = catalog.resources.filter(origin_system=OriginSystem.GROUP,
                                            origin_id=str(group.pk)).first()
        if existing is not None:
            raise InvalidInput(f"The catalog already offers the group “{group}” (as "
                               f"“{existing}”).", field="group", code="resourceExists")
        name = clean_name(display_name or group.display_name, field="display_name",
                          what="resource", max_length=RESOURCE_NAME_MAX)
        resource = Resource.objects.create(
            catalog=catalog, display_name=name,
            description=clean_text(description) or group.description,
            origin_system=OriginSystem.GROUP, origin_id=str(group.pk), connector="local")
        ResourceRole.objects.bulk_create([
            ResourceRole(resource=resource, display_name=role.label,
                         origin_id=f"{role.value}_{group.pk}") for role in GROUP_ROLES])
        audit_record(actor=actor, action="resource.added", obj=resource,
                     after=_resource_snapshot(resource), details={"catalog": catalog.pk})
    return resource


def resource_update(*, actor: User, resource_id: int, display_name: str,
                    description: str) -> Resource:
    """Rename a resource or change its description (owners); what it is stays."""
    with transaction.atomic():
        resource = _lock_resource(resource_id)
        require(actor, resource.catalog, Capability.CATALOG, "change resources")
        before = {"displayName": resource.display_name, "description": resource.description}
        resource.display_name = clean_name(display_name, field="display_name",
                                           what="resource", max_length=RESOURCE_NAME_MAX)
        resource.description = clean_text(description)
        after = {"displayName": resource.display_name, "description": resource.description}
        if after != before:
            resource.save(update_fields=["display_name", "description"])
            audit_record(actor=actor, action="resource.changed", obj=resource, before=before,
                         after=after)
    return resource


def _refuse_removal(resources) -> None:
    """InvalidState when a package grants one of the resources' roles, or a delivery of one
    is on record (the history of who held what keeps the role)."""
    used = AccessPackage.objects.filter(role_scopes__role__resource__in=resources).distinct()
    if used.exists():
        raise InvalidState(
            f"The access packages {_names(used.values_list('display_name', flat=True))} grant "
            "roles of this resource; remove the roles from them first.", code="resourceInUse")
    if RoleDelivery.objects.filter(role__resource__in=resources).exists():
        raise InvalidState(
            "Its roles have been delivered to people, and the record of those deliveries "
            "keeps it; it can no longer be removed.", code="resourceHasHistory")


def resource_remove(*, actor: User, resource_id: int) -> None:
    """Stop offering a resource in its catalog (owners), once no package grants its roles."""
    with transaction.atomic():
        resource = _lock_resource(resource_id)
        require(actor, resource.catalog, Capability.CATALOG, "remove resources")
        _refuse_removal([resource])
        audit_record(actor=actor, action="resource.removed", obj=resource,
                     before=_resource_snapshot(resource),
                     details={"catalog": resource.catalog_id})
        resource.delete()


def resources_remove_all(catalog: Catalog) -> list[str]:
    """Remove every resource of a catalog that is being deleted (locked by the caller);
    returns their names."""
    resources = list(catalog.resources.all())
    _refuse_removal(resources)
    names = [resource.display_name for resource in resources]
    catalog.resources.all().delete()
    return names
