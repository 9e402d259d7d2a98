"""Who may administer what. The delegated admin site builds on the same questions."""

from governance.choices import CatalogRole
from governance.models import Catalog, User

ASSIGNMENT_ROLES = [CatalogRole.OWNER, CatalogRole.ASSIGNMENT_MANAGER]


def can_manage_assignments(user: User, catalog: Catalog) -> bool:
    """Global administrators, catalog owners and access package assignment managers."""
    if user.is_superuser:
        return True
    return user.catalog_roles.filter(catalog=catalog, role__in=ASSIGNMENT_ROLES).exists()
