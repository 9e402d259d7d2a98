"""Who may administer what: the delegated roles of the reference (behaviour 11).

Global administrators (superusers) may do everything. Per catalog:

- READ (see the catalog and all in it): every catalog role.
- CATALOG (the catalog itself, its resources and role holders): owners.
- PACKAGES (packages, their resource roles and policies): owners, package managers.
- ASSIGNMENTS (assign directly, remove, cancel, reprocess): owners, package managers and
  assignment managers.

Globally, catalog creators create catalogs (and own them), connected organisation
administrators manage connected organisations and their sponsors. The admin site, the pages
and the services all ask these functions, so they cannot disagree. A catalog-owned queryset is
restricted with ``.restrict(user, capability)`` (governance.models.visibility), which asks
``capability.catalog_ids(user)``; who may see what, capability by capability and person by
person, is governance.selectors.visibility.
"""

import enum

from governance.choices import CatalogRole, GlobalRole
from governance.models import Catalog, CatalogRoleAssignment, User


class Capability(enum.StrEnum):
    READ = "read"
    CATALOG = "catalog"
    PACKAGES = "packages"
    ASSIGNMENTS = "assignments"

    def catalog_ids(self, user: User) -> set[int] | None:
        """What CatalogOwnedQuerySet.restrict asks: the catalogs where `user` has this."""
        return catalog_ids_for(user, self)


ROLES_WITH = {
    Capability.READ: frozenset(CatalogRole.values),
    Capability.CATALOG: frozenset({CatalogRole.OWNER}),
    Capability.PACKAGES: frozenset({CatalogRole.OWNER, CatalogRole.PACKAGE_MANAGER}),
    Capability.ASSIGNMENTS: frozenset({CatalogRole.OWNER, CatalogRole.PACKAGE_MANAGER,
                                       CatalogRole.ASSIGNMENT_MANAGER}),
}


def is_global_admin(user: User) -> bool:
    return bool(user.is_active and user.is_superuser)


def _catalog_roles(user: User) -> dict[int, set[str]]:
    """{catalog id: roles}, read once per user object (the admin asks many times a page)."""
    if not user.is_authenticated or not user.is_active:
        return {}
    cached = getattr(user, "_catalog_roles_cache", None)
    if cached is None:
        cached = {}
        for catalog_id, role in CatalogRoleAssignment.objects.filter(user=user).values_list(
                "catalog_id", "role"):
            cached.setdefault(catalog_id, set()).add(role)
        user._catalog_roles_cache = cached
    return cached


def _global_roles(user: User) -> set[str]:
    if not user.is_authenticated or not user.is_active:
        return set()
    cached = getattr(user, "_global_roles_cache", None)
    if cached is None:
        cached = set(user.global_roles.values_list("role", flat=True))
        user._global_roles_cache = cached
    return cached


def forget_roles(user: User) -> None:
    """After a role changes within the same request."""
    for name in ("_catalog_roles_cache", "_global_roles_cache"):
        user.__dict__.pop(name, None)


def has_global_role(user: User, role: GlobalRole) -> bool:
    return is_global_admin(user) or role in _global_roles(user)


def catalog_ids_for(user: User, capability: Capability) -> set[int] | None:
    """The catalogs where `user` has `capability`; None means all (a global administrator)."""
    if is_global_admin(user):
        return None
    wanted = ROLES_WITH[capability]
    return {catalog_id for catalog_id, roles in _catalog_roles(user).items() if roles & wanted}


def can(user: User, catalog_id: int | None, capability: Capability) -> bool:
    ids = catalog_ids_for(user, capability)
    return ids is None or (catalog_id is not None and catalog_id in ids)


def can_anywhere(user: User, capability: Capability) -> bool:
    ids = catalog_ids_for(user, capability)
    return ids is None or bool(ids)


def can_use_admin(user: User) -> bool:
    """Anyone with a role, catalog or global, may open the admin site; it shows them their part."""
    return is_global_admin(user) or bool(_catalog_roles(user)) or bool(_global_roles(user))


def can_manage_assignments(user: User, catalog: Catalog) -> bool:
    """Global administrators, catalog owners, access package managers and access package
    assignment managers."""
    return can(user, catalog.pk, Capability.ASSIGNMENTS)


def holds_catalog_role(user: User) -> bool:
    """Any role in any catalog: owner, reader, access package (assignment) manager."""
    return bool(_catalog_roles(user))
