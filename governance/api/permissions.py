"""Graph permission names as DRF permissions: reading needs Read.All or ReadWrite.All,
anything else ReadWrite.All. What a caller may see within that is for the selectors."""

from rest_framework import permissions

from governance.choices import ApiPermission

READ_SCOPES = frozenset({ApiPermission.READ_ALL.value, ApiPermission.READ_WRITE_ALL.value})
WRITE_SCOPES = frozenset({ApiPermission.READ_WRITE_ALL.value})


def token_scopes(request) -> frozenset[str]:
    auth = getattr(request, "auth", None)
    return frozenset(auth) if isinstance(auth, (set, frozenset)) else frozenset()


class HasGraphPermission(permissions.BasePermission):
    message = "The token does not have the permission this call needs."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        reading = request.method in permissions.SAFE_METHODS
        if token_scopes(request) & (READ_SCOPES if reading else WRITE_SCOPES):
            return True
        needed = ApiPermission.READ_ALL if reading else ApiPermission.READ_WRITE_ALL
        self.message = f"This call needs the permission {needed.value}; the token does not have it."
        return False
