"""Catalogs and the people who hold a role in them (behaviour 11).

Global administrators and catalog creators create catalogs, and own what they create.
Owners change and delete their catalogs and decide who else holds a role in them; a catalog
always keeps at least one owner. Each call runs in one transaction, locks the catalog, checks,
writes and audits; a refusal has changed nothing.
"""

from django.db import transaction

from governance.choices import CatalogRole, CatalogState, GlobalRole
from governance.models import Catalog, CatalogRoleAssignment, User
from governance.selectors.permissions import Capability, forget_roles, has_global_role
from governance.services.audit import audit_record
from governance.services.errors import Duplicate, InvalidInput, InvalidState, NotAllowed, NotFound
from governance.services.internal.config_checks import (
    clean_name,
    clean_text,
    max_length,
    name_taken,
    require,
)
from governance.services.internal.guards import locked_or_not_found
from governance.services.resources import resources_remove_all

NAME_MAX = max_length(Catalog, "display_name")


def _snapshot(catalog: Catalog) -> dict:
    return {"displayName": catalog.display_name, "description": catalog.description,
            "state": catalog.state, "isExternallyVisible": catalog.is_externally_visible}


def _lock(catalog_id: int) -> Catalog:
    return locked_or_not_found(Catalog.objects, catalog_id, "This catalog does not exist.",
                               code="catalogNotFound")


def _fields(*, display_name: str, description: str, state: str, is_externally_visible: bool,
            catalog_id: int | None = None) -> dict:
    name = clean_name(display_name, field="display_name", what="catalog", max_length=NAME_MAX)
    if state not in CatalogState.values:
        raise InvalidInput("Choose whether the catalog is published or unpublished.",
                           field="state", code="invalidState")
    if name_taken(Catalog.objects, name, catalog_id):
        raise InvalidInput(f"A catalog named “{name}” already exists; choose another name.",
                           field="display_name", code="catalogNameTaken")
    return {"display_name": name, "description": clean_text(description), "state": state,
            "is_externally_visible": bool(is_externally_visible)}


def catalog_create(*, actor: User, display_name: str, description: str = "",
                   state: str = CatalogState.UNPUBLISHED,
                   is_externally_visible: bool = False) -> Catalog:
    """A new catalog, owned by `actor` (a global administrator or a catalog creator).

    :raises NotAllowed: the actor is neither.
    :raises InvalidInput: no name, a name another catalog has, or an unknown state.
    """
    if not has_global_role(actor, GlobalRole.CATALOG_CREATOR):
        raise NotAllowed("Only catalog creators and global administrators create catalogs.",
                         code="notCatalogCreator")
    fields = _fields(display_name=display_name, description=description, state=state,
                     is_externally_visible=is_externally_visible)
    with transaction.atomic():
        catalog = Catalog.objects.create(**fields)
        CatalogRoleAssignment.objects.create(catalog=catalog, user=actor, role=CatalogRole.OWNER)
        audit_record(actor=actor, action="catalog.created", obj=catalog,
                     after=_snapshot(catalog))
        audit_record(actor=actor, action="catalog.roleGranted", obj=catalog,
                     after={"user": actor.email, "role": CatalogRole.OWNER})
    forget_roles(actor)
    return catalog


def catalog_update(*, actor: User, catalog_id: int, display_name: str, description: str,
                   state: str, is_externally_visible: bool) -> Catalog:
    """Change a catalog's name, description, state and external visibility (owners)."""
    with transaction.atomic():
        catalog = _lock(catalog_id)
        require(actor, catalog, Capability.CATALOG, "change its settings")
        fields = _fields(display_name=display_name, description=description, state=state,
                         is_externally_visible=is_externally_visible, catalog_id=catalog.pk)
        before = _snapshot(catalog)
        for name, value in fields.items():
            setattr(catalog, name, value)
        if _snapshot(catalog) != before:
            catalog.save(update_fields=[*fields, "modified_at"])
            audit_record(actor=actor, action="catalog.changed", obj=catalog, before=before,
                         after=_snapshot(catalog))
    return catalog


def catalog_delete(*, actor: User, catalog_id: int) -> None:
    """Delete an empty catalog (owners): its resources go with it, its packages must go first.

    :raises InvalidState: the catalog still holds access packages.
    """
    with transaction.atomic():
        catalog = _lock(catalog_id)
        require(actor, catalog, Capability.CATALOG, "delete it")
        packages = list(catalog.access_packages.values_list("display_name", flat=True)[:4])
        if packages:
            names = ", ".join(f"“{name}”" for name in packages[:3])
            more = " and others" if len(packages) > 3 else ""
            raise InvalidState(f"The catalog “{catalog}” still holds the access packages "
                               f"{names}{more}; delete them first.", code="catalogNotEmpty")
        resources = resources_remove_all(catalog)
        # Without packages no policy calls its custom extensions: they go with it.
        extensions = list(catalog.custom_extensions.values_list("display_name", flat=True))
        catalog.custom_extensions.all().delete()
        holders = list(catalog.role_assignments.values_list("user__email", "role"))
        audit_record(actor=actor, action="catalog.deleted", obj=catalog,
                     before=_snapshot(catalog), details={
                         "resources": resources,
                         **({"customExtensions": extensions} if extensions else {}),
                         "roles": [{"user": email, "role": role} for email, role in holders]})
        catalog.delete()
    forget_roles(actor)


def _role_label(role: str) -> str:
    return CatalogRole(role).label.lower()


def _check_holder(user: User | None, role: str) -> None:
    if role not in CatalogRole.values:
        raise InvalidInput("Choose one of the catalog roles.", field="role",
                           code="invalidRole")
    if user is None or not user.pk:
        raise InvalidInput("Choose the person who is to hold the role.", field="user",
                           code="userRequired")
    if not user.is_active:
        raise InvalidInput(f"{user}’s account is disabled, so they cannot hold a catalog role.",
                           field="user", code="userInactive")
    if user.is_guest:
        raise InvalidInput(f"{user} is an external user; only members of the organization "
                           "hold catalog roles.", field="user", code="userExternal")


def catalog_role_grant(*, actor: User, catalog_id: int, user: User,
                       role: str) -> CatalogRoleAssignment:
    """Give `user` a role in the catalog (owners).

    :raises InvalidInput: unknown role, disabled or external person.
    :raises Duplicate: they hold that role already.
    """
    with transaction.atomic():
        catalog = _lock(catalog_id)
        require(actor, catalog, Capability.CATALOG, "change who holds roles in it")
        _check_holder(user, role)
        if catalog.role_assignments.filter(user=user, role=role).exists():
            raise Duplicate(f"{user} is already {_role_label(role)} of “{catalog}”.",
                            code="roleAlreadyHeld")
        assignment = CatalogRoleAssignment.objects.create(catalog=catalog, user=user, role=role)
        audit_record(actor=actor, action="catalog.roleGranted", obj=catalog,
                     after={"user": user.email, "role": role})
    if user.pk == actor.pk:
        forget_roles(actor)
    return assignment


def catalog_role_revoke(*, actor: User, catalog_id: int, user: User, role: str) -> None:
    """Take a role in the catalog away from `user` (owners); the last owner stays.

    :raises NotFound: they do not hold the role.
    :raises InvalidState: they are the catalog's last owner.
    """
    with transaction.atomic():
        # The catalog's lock makes "is this the last owner?" hold until the commit.
        catalog = _lock(catalog_id)
        require(actor, catalog, Capability.CATALOG, "change who holds roles in it")
        held = catalog.role_assignments.filter(user=user, role=role).first()
        if held is None:
            raise NotFound(f"{user} is not {_role_label(role)} of “{catalog}”.",
                           code="roleNotHeld")
        owners = catalog.role_assignments.filter(role=CatalogRole.OWNER).count()
        if role == CatalogRole.OWNER and owners == 1:
            raise InvalidState(f"{user} is the last owner of “{catalog}”; make someone else "
                               "owner first.", code="lastOwner")
        held.delete()
        audit_record(actor=actor, action="catalog.roleRevoked", obj=catalog,
                     before={"user": user.email, "role": role})
    if user.pk == actor.pk:
        forget_roles(actor)
