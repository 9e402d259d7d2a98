"""Graph permission names as DRF permissions. A view names the permissions it takes
(``graph_permissions``); entitlement management's by default: reading needs Read.All or
ReadWrite.All, anything else ReadWrite.All. What a caller may see within that is for the
selectors, what they may change for the services."""

from dataclasses import dataclass

from rest_framework import permissions

from governance.choices import ApiPermission, UserType


@dataclass(frozen=True)
class GraphPermissions:
    """The permissions that let a token read (GET) or write (anything else) through a view;
    a refusal names the first of each, Graph's least privileged one."""

    read: tuple[str, ...]
    write: tuple[str, ...]
    # The call answers for the signed-in person: an application's token cannot make it.
    delegated_only: bool = False


ENTITLEMENT_MANAGEMENT = GraphPermissions(
    read=(ApiPermission.READ_ALL.value, ApiPermission.READ_WRITE_ALL.value),
    write=(ApiPermission.READ_WRITE_ALL.value,))
# /v1.0/users: read as before with entitlement management's permissions (the scripts that read
# requests read their people too) or with Graph's User permissions; changed with
# User.ReadWrite.All only, as in Graph.
USERS = GraphPermissions(
    read=(ApiPermission.USER_READ_ALL.value, ApiPermission.USER_READ_WRITE_ALL.value,
          *ENTITLEMENT_MANAGEMENT.read),
    write=(ApiPermission.USER_READ_WRITE_ALL.value,))
# accessPackages/{id}/getApplicablePolicyRequirements: a POST that only reads, for the signed-in
# person. As in Graph: delegated Read.All or ReadWrite.All, and no application permission.
SIGNED_IN_READ = GraphPermissions(read=ENTITLEMENT_MANAGEMENT.read,
                                  write=ENTITLEMENT_MANAGEMENT.read, delegated_only=True)


def token_scopes(request) -> frozenset[str]:
    """The permissions of the call's token. A person's own token is delegated: it holds every
    permission, and the person's roles decide what it may do (as they do in the portal)."""
    auth = getattr(request, "auth", None)
    scopes = frozenset(auth) if isinstance(auth, (set, frozenset)) else frozenset()
    user = getattr(request, "user", None)
    if scopes and user is not None and getattr(user, "user_type", None) != UserType.SERVICE:
        return frozenset(ApiPermission.values)
    return scopes


class HasGraphPermission(permissions.BasePermission):
    message = "The token does not have the permission this call needs."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        reading = request.method in permissions.SAFE_METHODS
        taken = getattr(view, "graph_permissions", ENTITLEMENT_MANAGEMENT)
        accepted = taken.read if reading else taken.write
        if taken.delegated_only and request.user.user_type == UserType.SERVICE:
            self.message = ("This call answers for the signed-in person: it needs a person's "
                            f"own (delegated) token, with {' or '.join(accepted)}; an "
                            "application's token cannot make it.")
            return False
        if token_scopes(request) & set(accepted):
            return True
        self.message = (f"This call needs the permission {accepted[0]}; the token does not "
                        "have it.")
        return False
