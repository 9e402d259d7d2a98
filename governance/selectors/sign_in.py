"""How strongly a person must sign in: strong roles need two-step verification.

Global administrators and the holders of catalog roles decide who gets access to what, so the
admin site and their own API tokens wait until they have an authenticator app (TOTP). Whether
they have one is read from allauth's table, the same one its sign-in asks for a code.
"""

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled

from governance.models import User
from governance.selectors.permissions import holds_catalog_role, is_global_admin


def needs_two_step(user: User) -> bool:
    return is_global_admin(user) or holds_catalog_role(user)


def has_two_step(user: User) -> bool:
    """An authenticator app is set up (recovery codes alone do not count)."""
    return user.is_authenticated and is_mfa_enabled(user, types=[Authenticator.Type.TOTP])


def lacks_two_step(user: User) -> bool:
    """A strong role without an authenticator app: to be led to set one up first."""
    return needs_two_step(user) and not has_two_step(user)
