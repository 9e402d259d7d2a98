"""The global roles a person holds beside the catalogs' (catalog creator, connected
organisation administrator, user administrator): granted and taken away by global
administrators only, since each of them reaches beyond any one catalog."""

from collections.abc import Iterable

from django.db import transaction

from governance.choices import AccountState, GlobalRole, UserType
from governance.models import GlobalRoleAssignment, User
from governance.selectors.permissions import forget_roles, is_global_admin
from governance.services.audit import audit_record
from governance.services.errors import InvalidInput, NotAllowed, NotFound


@transaction.atomic
def global_roles_set(*, actor: User, user_id, roles: Iterable[str]) -> set[str]:
    """Make `roles` the person's global roles: those missing are granted, the others taken
    away. Audited with the roles before and after; returns the roles they now hold."""
    if actor is None or not is_global_admin(actor):
        raise NotAllowed("Only global administrators grant and take away global roles.")
    wanted = set(roles)
    unknown = sorted(wanted - set(GlobalRole.values))
    if unknown:
        raise InvalidInput(f"{unknown[0]} is not a global role; the roles are "
                           f"{', '.join(GlobalRole.values)}.", field="global_roles",
                           code="invalidValue")
    person = User.objects.select_for_update().filter(pk=user_id) \
        .exclude(user_type=UserType.SERVICE).exclude(account_state=AccountState.DELETED).first()
    if person is None:
        raise NotFound(f"There is no person {user_id}.", code="userNotFound")
    held = set(person.global_roles.values_list("role", flat=True))
    if held == wanted:
        return held
    person.global_roles.filter(role__in=held - wanted).delete()
    GlobalRoleAssignment.objects.bulk_create(
        [GlobalRoleAssignment(user=person, role=role) for role in sorted(wanted - held)])
    forget_roles(person)
    audit_record(actor=actor, action="user.globalRolesChanged", obj=person,
                 before={"globalRoles": sorted(held)}, after={"globalRoles": sorted(wanted)})
    return wanted
