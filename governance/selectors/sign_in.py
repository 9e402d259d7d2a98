"""Who may sign in, as whom, and how strongly.

Whether a person may sign in at all is `may_sign_in` (why not: directory.sign_in_refusal_reason).
An identity provider's sign-in names a person of the directory by their address or by its own
id of them (`people_signing_in_as`). Strong roles need two-step verification: global
administrators and the holders of catalog roles decide who gets access to what, so the admin
site and their own API tokens wait until they have an authenticator app (TOTP). Whether they
have one is read from allauth's table, the same one its sign-in asks for a code.
"""

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.db.models import Q

from governance.choices import AccountState, GlobalRole, UserType
from governance.models import User
from governance.selectors.permissions import has_global_role, holds_catalog_role, is_global_admin


def may_sign_in(user: User) -> bool:
    """Active (not deactivated), not blocked or deleted by the guest lifecycle, and a person
    rather than an API client. Password, emailed code and every identity provider ask this."""
    return (user.is_active and user.account_state == AccountState.ACTIVE
            and user.user_type != UserType.SERVICE)


def people_signing_in_as(*, email: str = "", external_id: str = "") -> list[User]:
    """The people an identity provider's sign-in names: by an address it verified (the
    person's own, or one they verified here; an unverified address here names nobody), or by
    its id of them, the externalId that it provisioned them with. At most two are returned:
    more than one is ambiguous, and then nobody is signed in."""
    if external_id:
        named = Q(external_id=external_id)
    elif email:
        verified_here = EmailAddress.objects.filter(email__iexact=email, verified=True) \
            .values("user_id")
        named = Q(email__iexact=email) | Q(pk__in=verified_here)
    else:
        return []
    return list(User.objects.filter(named).order_by("pk")[:2])


def needs_two_step(user: User) -> bool:
    """Global administrators, catalog role holders and user administrators (who deactivate
    people) use an authenticator app before the admin."""
    return (is_global_admin(user) or holds_catalog_role(user)
            or has_global_role(user, GlobalRole.USER_ADMIN))


def has_two_step(user: User) -> bool:
    """An authenticator app is set up (recovery codes alone do not count)."""
    return user.is_authenticated and is_mfa_enabled(user, types=[Authenticator.Type.TOTP])


def lacks_two_step(user: User) -> bool:
    """A strong role without an authenticator app: to be led to set one up first."""
    return needs_two_step(user) and not has_two_step(user)
