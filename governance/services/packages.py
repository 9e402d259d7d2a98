"""The access packages of a catalog and the roles they grant (the resources themselves:
governance.services.resources).

Packages and the roles they grant are the catalog owners' and the package managers'
(Capability.PACKAGES). Adding a role to a package delivers it to everyone who
holds the package; removing one takes it away, unless another assignment still grants it
(behaviour 7). Lock order: catalog, package, assignments.
"""

from collections.abc import Iterable

from django.db import transaction

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    REQUEST_OPEN,
    DeliveryAction,
    DeliveryState,
)
from governance.models import (
    AccessPackage,
    Assignment,
    Catalog,
    Group,
    ResourceRole,
    ResourceRoleScope,
    RoleDelivery,
    User,
)
from governance.selectors.permissions import Capability, catalog_ids_for
from governance.services.audit import audit_record
from governance.services.delivery import (
    assignments_refresh,
    deliveries_revoke,
    granted_elsewhere,
)
from governance.services.errors import Duplicate, InvalidInput, InvalidState, NotFound
from governance.services.expiry import KEPT_NOTE
from governance.services.internal.bulk import ids_in
from governance.services.internal.config_checks import (
    clean_name,
    clean_text,
    max_length,
    name_taken,
    require,
)
from governance.services.internal.dispatch import deliveries_after_commit
from governance.services.internal.guards import catalog_locked, parent_id_or_not_found

PACKAGE_NAME_MAX = max_length(AccessPackage, "display_name")


# Packages


def _package_snapshot(package: AccessPackage) -> dict:
    return {"displayName": package.display_name, "description": package.description,
            "isHidden": package.is_hidden,
            "incompatibleAccessPackages": sorted(
                package.incompatible_access_packages.values_list("pk", flat=True)),
            "incompatibleGroups": sorted(package.incompatible_groups.values_list("pk",
                                                                                flat=True))}


def package_lock(package_id: int) -> AccessPackage:
    """The package, locked after its catalog (for the policies' services too)."""
    catalog_id = parent_id_or_not_found(AccessPackage, package_id, "catalog_id",
                                        "This access package does not exist.",
                                        code="packageNotFound")
    Catalog.objects.select_for_update().filter(pk=catalog_id).first()
    return AccessPackage.objects.select_for_update().select_related("catalog").get(
        pk=package_id)


def _package_name(catalog: Catalog, display_name: str, package_id: int | None = None) -> str:
    name = clean_name(display_name, field="display_name", what="access package",
                      max_length=PACKAGE_NAME_MAX)
    if name_taken(catalog.access_packages, name, package_id):
        raise InvalidInput(f"The catalog already has an access package named “{name}”.",
                           field="display_name", code="packageNameTaken")
    return name


def _readable(actor: User, packages):
    """`packages` limited to those of the catalogs the actor may read."""
    visible = catalog_ids_for(actor, Capability.READ)
    return packages if visible is None else packages.filter(catalog_id__in=visible)


def _incompatible_packages(actor: User, package: AccessPackage,
                           package_ids: Iterable[int]) -> list[int]:
    """The packages to record as incompatible: those asked for (each one the actor may see),
    plus those already recorded that the actor cannot see, which are not theirs to drop."""
    wanted = {int(pk) for pk in package_ids or ()}
    if package.pk in wanted:
        raise InvalidInput("A package cannot be incompatible with itself.",
                           field="incompatible_access_packages", code="incompatibleWithItself")
    visible = catalog_ids_for(actor, Capability.READ)
    found = AccessPackage.objects.filter(pk__in=wanted)
    if visible is not None:
        found = found.filter(catalog_id__in=visible)
    found_ids = set(found.values_list("pk", flat=True))
    if found_ids != wanted:
        raise InvalidInput("One of the incompatible access packages does not exist, or is in "
                           "a catalog you have no role in.",
                           field="incompatible_access_packages", code="packageNotFound")
    hidden = set()
    if package.pk and visible is not None:
        hidden = set(package.incompatible_access_packages.exclude(
            catalog_id__in=visible).values_list("pk", flat=True))
    return sorted(found_ids | hidden)


def _incompatible_groups(group_ids: Iterable[int]) -> list[int]:
    wanted = {int(pk) for pk in group_ids or ()}
    if Group.objects.filter(pk__in=wanted).count() != len(wanted):
        raise InvalidInput("One of the incompatible groups does not exist.",
                           field="incompatible_groups", code="groupNotFound")
    return sorted(wanted)


def _write_package(actor: User, package: AccessPackage, *, display_name: str | None,
                   description: str | None, is_hidden: bool | None,
                   incompatible_access_package_ids, incompatible_group_ids
                   ) -> tuple[dict | None, AccessPackage]:
    """Each None keeps what the (locked) package has."""
    before = _package_snapshot(package) if package.pk else None
    if display_name is not None:
        package.display_name = _package_name(package.catalog, display_name, package.pk)
    if description is not None:
        package.description = clean_text(description)
    if is_hidden is not None:
        package.is_hidden = bool(is_hidden)
    packages = (None if incompatible_access_package_ids is None
                else _incompatible_packages(actor, package, incompatible_access_package_ids))
    groups = None if incompatible_group_ids is None else _incompatible_groups(
        incompatible_group_ids)
    package.save()
    if packages is not None:
        package.incompatible_access_packages.set(packages)
    if groups is not None:
        package.incompatible_groups.set(groups)
    return before, package


def package_create(*, actor: User, catalog_id: int, display_name: str, description: str = "",
                   is_hidden: bool = False, incompatible_access_package_ids: Iterable[int] = (),
                   incompatible_group_ids: Iterable[int] = ()) -> AccessPackage:
    """A new access package in a catalog (owners and package managers); it grants nothing
    and nobody can request it until roles and a policy are added.

    :raises InvalidInput: no name or one the catalog has, or incompatible packages the actor
        cannot see.
    """
    with transaction.atomic():
        catalog = catalog_locked(catalog_id)
        require(actor, catalog, Capability.PACKAGES, "create access packages")
        _, package = _write_package(
            actor, AccessPackage(catalog=catalog), display_name=display_name,
            description=description, is_hidden=is_hidden,
            incompatible_access_package_ids=incompatible_access_package_ids,
            incompatible_group_ids=incompatible_group_ids)
        audit_record(actor=actor, action="accessPackage.created", obj=package,
                     after=_package_snapshot(package), details={"catalog": catalog.pk})
    return package


def package_update(*, actor: User, package_id: int, display_name: str | None = None,
                   description: str | None = None, is_hidden: bool | None = None,
                   incompatible_access_package_ids: Iterable[int] | None = None,
                   incompatible_group_ids: Iterable[int] | None = None) -> AccessPackage:
    """Change a package's name, description, visibility and separation of duties.

    The id lists replace the package's incompatible packages and groups (as the admin's form
    has them). Whatever is None stays as it is when the lock is taken, so a caller that
    changes one part (the API's PATCH) never writes back values it read earlier.
    """
    with transaction.atomic():
        package = package_lock(package_id)
        require(actor, package.catalog, Capability.PACKAGES, "change access packages")
        before, package = _write_package(
            actor, package, display_name=display_name, description=description,
            is_hidden=is_hidden, incompatible_access_package_ids=incompatible_access_package_ids,
            incompatible_group_ids=incompatible_group_ids)
        after = _package_snapshot(package)
        if after != before:
            audit_record(actor=actor, action="accessPackage.changed", obj=package,
                         before=before, after=after)
    return package


# Separation of duties, one link at a time (the API's $ref endpoints). Each call re-reads
# the links under the package's lock and changes only its own, so calls at the same moment
# all keep their change; a list read before the lock and written back whole would drop the
# others'.


def _package_locked_for_change(actor: User, package_id: int) -> AccessPackage:
    package = package_lock(package_id)
    require(actor, package.catalog, Capability.PACKAGES, "change access packages")
    return package


def _link_add(actor: User, package: AccessPackage, links, item, *, action: str,
              key: str) -> bool:
    """Add `item` to one of the package's incompatibility `links`, audited; False when it is
    there already."""
    if links.filter(pk=item.pk).exists():
        return False
    links.add(item)
    audit_record(actor=actor, action=action, obj=package,
                 after={key: item.pk, "displayName": item.display_name})
    return True


def _link_remove(actor: User, package: AccessPackage, links, item, *, action: str,
                 key: str) -> None:
    links.remove(item)
    audit_record(actor=actor, action=action, obj=package,
                 before={key: item.pk, "displayName": item.display_name})


def package_incompatible_add(*, actor: User, package_id: int, other_package_id: int) -> bool:
    """Mark another package incompatible: someone who holds it cannot request or be assigned
    this one. One already marked changes nothing (the $ref endpoint has always answered a
    repeated add with 204, and a retried request should not fail); returns whether the link
    is new.

    :raises InvalidInput: the package itself, or one that does not exist or is in a catalog
        the actor has no role in.
    """
    with transaction.atomic():
        package = _package_locked_for_change(actor, package_id)
        if other_package_id == package.pk:
            raise InvalidInput("A package cannot be incompatible with itself.",
                               field="incompatible_access_packages",
                               code="incompatibleWithItself")
        other = _readable(actor, AccessPackage.objects.filter(pk=other_package_id)).first()
        if other is None:
            raise InvalidInput("This access package does not exist, or is in a catalog you "
                               "have no role in.", field="incompatible_access_packages",
                               code="packageNotFound")
        return _link_add(actor, package, package.incompatible_access_packages, other,
                         action="accessPackage.incompatiblePackageAdded", key="accessPackage")


def package_incompatible_remove(*, actor: User, package_id: int,
                                other_package_id: int) -> None:
    """No longer mark another package incompatible. A package of a catalog the actor has no
    role in is not theirs to drop: to them the link does not exist."""
    with transaction.atomic():
        package = _package_locked_for_change(actor, package_id)
        other = _readable(actor, package.incompatible_access_packages.filter(
            pk=other_package_id)).first()
        if other is None:
            raise NotFound(f"“{package}” is not marked incompatible with this access package.",
                           code="packageNotIncompatible")
        _link_remove(actor, package, package.incompatible_access_packages, other,
                     action="accessPackage.incompatiblePackageRemoved", key="accessPackage")


def package_incompatible_group_add(*, actor: User, package_id: int, group_id: int) -> bool:
    """Keep the members of a group from requesting or being assigned the package. A group
    already marked changes nothing; returns whether the link is new.

    :raises InvalidInput: no such group.
    """
    with transaction.atomic():
        package = _package_locked_for_change(actor, package_id)
        group = Group.objects.filter(pk=group_id).first()
        if group is None:
            raise InvalidInput("This group does not exist.", field="incompatible_groups",
                               code="groupNotFound")
        return _link_add(actor, package, package.incompatible_groups, group,
                         action="accessPackage.incompatibleGroupAdded", key="group")


def package_incompatible_group_remove(*, actor: User, package_id: int, group_id: int) -> None:
    """Let the members of a group request the package again (as far as this link goes)."""
    with transaction.atomic():
        package = _package_locked_for_change(actor, package_id)
        group = package.incompatible_groups.filter(pk=group_id).first()
        if group is None:
            raise NotFound(f"“{package}” is not marked incompatible with this group.",
                           code="groupNotIncompatible")
        _link_remove(actor, package, package.incompatible_groups, group,
                     action="accessPackage.incompatibleGroupRemoved", key="group")


def package_delete(*, actor: User, package_id: int) -> None:
    """Delete a package with its policies, once nobody holds or asks for it.

    :raises InvalidState: someone holds it, a request for it is open, or its history of
        requests and assignments keeps it (hide it instead).
    """
    with transaction.atomic():
        package = package_lock(package_id)
        require(actor, package.catalog, Capability.PACKAGES, "delete access packages")
        active = package.assignments.filter(state__in=ASSIGNMENT_ACTIVE).count()
        if active:
            raise InvalidState(f"“{package}” is assigned to {active} "
                               f"{'person' if active == 1 else 'people'}; remove those "
                               "assignments first.", code="packageAssigned")
        waiting = package.requests.filter(state__in=REQUEST_OPEN).count()
        if waiting:
            raise InvalidState(f"{waiting} open request{'s' if waiting > 1 else ''} for "
                               f"“{package}” must be decided or canceled first.",
                               code="packageHasOpenRequests")
        if package.assignments.exists() or package.requests.exists():
            raise InvalidState(f"“{package}” has a history of requests and assignments, which "
                               "keeps it; hide it instead, and stop its policies from "
                               "taking requests.", code="packageHasHistory")
        before = _package_snapshot(package)
        before["roles"] = sorted(package.role_scopes.values_list("role__origin_id", flat=True))
        before["policies"] = sorted(package.policies.values_list("display_name", flat=True))
        audit_record(actor=actor, action="accessPackage.deleted", obj=package, before=before,
                     details={"catalog": package.catalog_id})
        package.delete()


# The roles a package grants


def _role_of_catalog(package: AccessPackage, role_id: int) -> ResourceRole:
    role = ResourceRole.objects.select_related("resource").filter(pk=role_id).first()
    if role is None or role.resource.catalog_id != package.catalog_id:
        raise InvalidInput("Choose a role of a resource of this package's catalog.",
                           field="resource_roles", code="roleNotInCatalog")
    return role


def _active_assignment_ids(package: AccessPackage) -> list[int]:
    return list(Assignment.objects.filter(access_package=package, state__in=ASSIGNMENT_ACTIVE)
                .select_for_update().order_by("id").values_list("id", flat=True))


def package_role_add(*, actor: User, package_id: int, role_id: int) -> ResourceRoleScope:
    """Let the package grant a role of its catalog; everyone who holds the package gets it."""
    with transaction.atomic():
        package = package_lock(package_id)
        require(actor, package.catalog, Capability.PACKAGES, "change access packages")
        role = _role_of_catalog(package, role_id)
        if package.role_scopes.filter(role=role).exists():
            raise Duplicate(f"“{package}” already grants {role}.", code="roleAlreadyInPackage")
        scope = ResourceRoleScope.objects.create(access_package=package, role=role)
        holders = _active_assignment_ids(package)
        now = clock.now()
        # A role removed earlier left its (revoked) row on the assignment: grant it again.
        again = RoleDelivery.objects.filter(assignment_id__in=ids_in(holders), role=role)
        again.update(action=DeliveryAction.GRANT, state=DeliveryState.PENDING, attempts=0,
                     last_error="", note="", next_attempt_at=now, claimed_at=None,
                     completed_at=None)
        present = set(again.values_list("assignment_id", flat=True))
        RoleDelivery.objects.bulk_create([
            RoleDelivery(assignment_id=assignment_id, role=role, next_attempt_at=now)
            for assignment_id in holders if assignment_id not in present])
        audit_record(actor=actor, action="accessPackage.roleAdded", obj=package,
                     after={"role": role.origin_id, "resource": role.resource.display_name},
                     details={"deliveries": len(holders)})
        if holders:
            assignments_refresh(holders)
            deliveries_after_commit(holders)
    return scope


def package_role_remove(*, actor: User, package_id: int, role_id: int) -> None:
    """Stop granting a role; it is taken from the package's holders unless another of their
    assignments still grants it."""
    with transaction.atomic():
        package = package_lock(package_id)
        require(actor, package.catalog, Capability.PACKAGES, "change access packages")
        scope = package.role_scopes.select_related("role__resource").filter(
            role_id=role_id).first()
        if scope is None:
            raise NotFound("The package does not grant this role.", code="roleNotInPackage")
        role = scope.role
        scope.delete()
        holders = _active_assignment_ids(package)
        grants = RoleDelivery.objects.filter(assignment_id__in=ids_in(holders), role=role,
                                             action=DeliveryAction.GRANT)
        grants.filter(granted_elsewhere()).update(
            action=DeliveryAction.REVOKE, state=DeliveryState.DONE, note=KEPT_NOTE,
            completed_at=clock.now(), next_attempt_at=None)
        audit_record(actor=actor, action="accessPackage.roleRemoved", obj=package,
                     before={"role": role.origin_id, "resource": role.resource.display_name},
                     details={"deliveries": len(holders)})
        if holders:
            if deliveries_revoke(holders, role_ids=[role.pk]):
                deliveries_after_commit(holders)
            assignments_refresh(holders)
