"""Refresh: offer the groups and applications of a target system, with their roles, as
resources of a catalog. The system is asked outside any transaction; what it answered is
written in one. Nothing is ever removed, since the record of who held a role keeps it.
"""

from dataclasses import dataclass, field

from django.db import transaction

from governance import clock
from governance.choices import OriginSystem
from governance.connectors import DiscoveredResource
from governance.models import Catalog, Resource, ResourceRole, TargetSystem, User
from governance.selectors.permissions import Capability, can, is_global_admin
from governance.services.audit import audit_record, audit_record_many
from governance.services.errors import InvalidInput, NotAllowed
from governance.services.internal.config_checks import clean_text, max_length
from governance.services.internal.guards import locked_or_not_found
from governance.services.systems import system_ask, system_locked, system_or_not_found

RESOURCE_NAME_MAX = max_length(Resource, "display_name")
ROLE_NAME_MAX = max_length(ResourceRole, "display_name")
ORIGIN_ID_MAX = max_length(Resource, "origin_id")


@dataclass
class RefreshSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    roles_added: int = 0
    roles_renamed: int = 0
    # Found in the system, but not offered: (name, why).
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [f"{len(self.created)} resource(s) added", f"{len(self.updated)} updated",
                 f"{self.unchanged} unchanged", f"{self.roles_added} role(s) added",
                 f"{self.roles_renamed} renamed"]
        text = ", ".join(parts) + "."
        for name, why in self.skipped[:5]:
            text += f" Skipped “{name}”: {why}."
        if len(self.skipped) > 5:
            text += f" And {len(self.skipped) - 5} more skipped."
        return text


def _may_refresh(actor: User, system: TargetSystem, catalog: Catalog) -> None:
    """Owners refresh into their catalog a system a global administrator first connected
    to it; connecting a system to a catalog is for global administrators."""
    if not can(actor, catalog.pk, Capability.CATALOG):
        raise NotAllowed(f"Your roles in the catalog “{catalog}” do not allow you to add "
                         "resources.", code="notAllowed")
    if not is_global_admin(actor) and not system.resources.filter(catalog=catalog).exists():
        raise NotAllowed(f"“{system}” offers no resource in “{catalog}” yet; a global "
                         "administrator refreshes it into a catalog the first time.",
                         code="notAllowed")


def _valid(found: DiscoveredResource) -> str:
    """Why a discovered resource cannot be offered, or ""."""
    if found.origin_system not in OriginSystem.values:
        return f"unknown kind of resource “{found.origin_system}”"
    if not found.origin_id or len(found.origin_id) > ORIGIN_ID_MAX:
        return "its id in the system is empty or too long"
    if any(not role.origin_id or len(role.origin_id) > ORIGIN_ID_MAX for role in found.roles):
        return "one of its roles has an empty or too long id"
    return ""


def _name(value: str, limit: int, fallback: str) -> str:
    return (" ".join((value or "").split()) or fallback)[:limit]


def _sync_roles(resource: Resource, found: DiscoveredResource, summary: RefreshSummary) -> bool:
    roles = {role.origin_id: role for role in resource.roles.all()}
    new, changed = [], False
    for discovered in found.roles:
        name = _name(discovered.display_name, ROLE_NAME_MAX, discovered.origin_id)
        role = roles.get(discovered.origin_id)
        if role is None:
            role = ResourceRole(resource=resource, origin_id=discovered.origin_id,
                                display_name=name)
            new.append(role)
            roles[role.origin_id] = role
        elif role.pk is None:
            continue  # the system listed the role twice: the first name stands
        elif role.display_name != name:
            role.display_name = name
            role.save(update_fields=["display_name"])
            summary.roles_renamed += 1
            changed = True
    ResourceRole.objects.bulk_create(new)
    summary.roles_added += len(new)
    return changed or bool(new)


def _offer(catalog: Catalog, system: TargetSystem, discovered: list[DiscoveredResource],
           summary: RefreshSummary) -> list[tuple]:
    """Create or update the catalog's resources; returns audit entries (id, before, after)."""
    existing = {(resource.origin_system, resource.origin_id): resource
                for resource in catalog.resources.filter(
                    origin_id__in=[found.origin_id for found in discovered])
                .select_for_update().prefetch_related("roles")}
    entries, seen = [], set()
    for found in discovered:
        name = _name(found.display_name, RESOURCE_NAME_MAX, found.origin_id)
        why = _valid(found)
        key = (found.origin_system, found.origin_id)
        if not why and key in seen:
            why = "the system listed it twice"
        resource = existing.get(key)
        if not why and resource is not None and resource.system_id != system.pk:
            why = f"the catalog already offers it as “{resource}”, from elsewhere"
        if why:
            summary.skipped.append((name, why))
            continue
        seen.add(key)
        description = clean_text(found.description)
        if resource is None:
            resource = Resource.objects.create(
                catalog=catalog, display_name=name, description=description,
                origin_system=found.origin_system, origin_id=found.origin_id,
                connector=system.kind, system=system)
            _sync_roles(resource, found, summary)
            summary.created.append(name)
            entries.append(("resource.added", resource.pk, None, {"displayName": name}))
            continue
        before = {"displayName": resource.display_name, "description": resource.description,
                  "connector": resource.connector}
        # A system that describes nothing leaves the owners' description as it is.
        description = description or resource.description
        resource.display_name, resource.description = name, description
        resource.connector = system.kind
        after = {"displayName": name, "description": description, "connector": system.kind}
        if after != before:
            resource.save(update_fields=["display_name", "description", "connector"])
        roles_changed = _sync_roles(resource, found, summary)
        if after != before or roles_changed:
            summary.updated.append(name)
            entries.append(("resource.changed", resource.pk, before, after))
        else:
            summary.unchanged += 1
    return entries


def system_refresh(*, actor: User, system_id: int, catalog_id: int) -> RefreshSummary:
    """Offer the groups and applications of a system (with their roles) as resources of a
    catalog: new ones are added, renamed ones renamed, new roles added. Nothing is removed:
    what people held stays on record.

    :raises NotAllowed: the actor does not own the catalog, or (not being a global
        administrator) the system offers nothing in it yet.
    :raises SystemUnreachable: the system did not answer; its own words.
    """
    system = system_or_not_found(system_id)
    catalog = Catalog.objects.filter(pk=catalog_id).first() if catalog_id else None
    if catalog is None:
        raise InvalidInput("Choose the catalog to offer the system's resources in.",
                           field="catalog", code="catalogNotFound")
    _may_refresh(actor, system, catalog)
    discovered = system_ask(system, lambda connector: list(connector.discover()))
    with transaction.atomic():
        catalog = locked_or_not_found(Catalog.objects, catalog_id,
                                      "This catalog no longer exists.", code="catalogNotFound")
        system = system_locked(system_id)
        _may_refresh(actor, system, catalog)
        summary = RefreshSummary()
        entries = _offer(catalog, system, discovered, summary)
        for action in ("resource.added", "resource.changed"):
            audit_record_many(actor=actor, action=action, object_type="resource", entries=[
                (pk, before, after, {"catalog": catalog.pk, "system": system.pk})
                for kind, pk, before, after in entries if kind == action])
        system.last_refreshed_at = clock.now()
        system.save(update_fields=["last_refreshed_at"])
        audit_record(actor=actor, action="targetSystem.refreshed", obj=system, details={
            "catalog": catalog.pk, "added": summary.created, "updated": summary.updated,
            "rolesAdded": summary.roles_added, "rolesRenamed": summary.roles_renamed,
            "skipped": [name for name, _ in summary.skipped]})
    return summary
