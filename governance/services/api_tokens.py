"""Bearer tokens for the API: registering and revoking API clients (global administrators, or
the system from a management command), people's own tokens, and checking a presented token.

A token is "<kind>_<prefix>.<secret>" (see governance.models.api). Only a hash of the secret
is stored; the token is returned once, by the service that makes it.

The secret is 32 random bytes, so a single SHA-256 is as safe as a slow password hash (there
is nothing to guess) and costs microseconds instead of a third of a second on every call.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from governance import clock
from governance.choices import ApiPermission, UserType
from governance.models import ApiClient, PersonalToken, User
from governance.selectors.permissions import is_global_admin
from governance.services.audit import audit_record
from governance.services.errors import Duplicate, InvalidInput, NotAllowed, NotFound
from governance.services.internal.config_checks import clean_name, max_length
from governance.services.internal.guards import locked_or_not_found

CLIENT_KIND = "pac"
PERSON_KIND = "pat"
PREFIX_LENGTH = 8
# last_used_at is written at most this often, so that busy scripts do not write every call.
LAST_USED_EVERY = timedelta(minutes=1)
CLIENT_NAME_MAX = max_length(ApiClient, "display_name")
TOKEN_NAME_MAX = max_length(PersonalToken, "name")


HASH_SCHEME = "sha256"


def make_password(secret: str) -> str:
    return f"{HASH_SCHEME}${hashlib.sha256(secret.encode()).hexdigest()}"


def check_password(secret: str, stored: str) -> bool:
    return hmac.compare_digest(make_password(secret), stored or "")


def _principal_for(name: str, prefix: str, *, label: str = "api-client",
                   superuser: bool = True) -> User:
    """The service user a client acts as (see ApiClient.principal): an API client has a
    global administrator's rights; a provisioning client (`superuser` False) has none but
    what the people services give it."""
    principal = User(email=f"{label}-{prefix}@clients.invalid", display_name=name,
                     user_type=UserType.SERVICE, is_superuser=superuser, is_active=True)
    principal.username = principal.email
    principal.set_unusable_password()
    principal.save()
    return principal


def _new_secret(kind: str, model, prefix_field: str) -> tuple[str, str, str]:
    """(prefix, secret, token) with a prefix no row of `model` uses yet."""
    while True:
        prefix = secrets.token_hex(PREFIX_LENGTH // 2)
        if not model.objects.filter(**{prefix_field: prefix}).exists():
            break
    secret = secrets.token_urlsafe(32)
    return prefix, secret, f"{kind}_{prefix}.{secret}"


def _parse(raw: str) -> tuple[str, str, str] | None:
    """(kind, prefix, secret) of a well-formed token, else None."""
    kind, _, rest = (raw or "").partition("_")
    prefix, _, secret = rest.partition(".")
    if kind not in (CLIENT_KIND, PERSON_KIND) or len(prefix) != PREFIX_LENGTH or not secret:
        return None
    return kind, prefix, secret


def _clean_permissions(permissions) -> list[str]:
    chosen = list(dict.fromkeys(permissions or []))
    if not chosen:
        raise InvalidInput("Choose at least one permission for the API client.",
                           field="permissions")
    unknown = [p for p in chosen if p not in ApiPermission.values]
    if unknown:
        raise InvalidInput(
            f"Unknown permission {unknown[0]!r}; choose from {', '.join(ApiPermission.values)}.",
            field="permissions")
    return chosen


@transaction.atomic
def api_client_create(*, actor: User | None, display_name: str, permissions,
                      system: bool = False) -> tuple[ApiClient, str]:
    """Register an API client and return it with its token, which is never shown again.

    `system=True` is the management command acting as the system, with no actor.
    """
    if not system and (actor is None or not is_global_admin(actor)):
        raise NotAllowed("Only global administrators register API clients.")
    name = clean_name(display_name, field="displayName", what="API client",
                      max_length=CLIENT_NAME_MAX)
    chosen = _clean_permissions(permissions)
    if ApiClient.objects.filter(display_name__iexact=name).exists():
        raise Duplicate(f"An API client named {name!r} already exists; choose another name.",
                        code="duplicateName")
    prefix, secret, token = _new_secret(CLIENT_KIND, ApiClient, "secret_prefix")
    client = ApiClient.objects.create(
        display_name=name, permissions=chosen, secret_prefix=prefix,
        secret_hash=make_password(secret), created_by=actor,
        principal=_principal_for(name, prefix))
    audit_record(actor=actor, action="apiClient.created", obj=client,
                 after={"displayName": name, "permissions": chosen, "prefix": prefix})
    return client, token


@transaction.atomic
def api_client_revoke(*, actor: User | None, client_id, system: bool = False) -> ApiClient:
    if not system and (actor is None or not is_global_admin(actor)):
        raise NotAllowed("Only global administrators revoke API clients.")
    client = locked_or_not_found(ApiClient.objects, client_id,
                                 "This API client no longer exists; someone deleted it.",
                                 code="apiClientNotFound")
    if client.is_active:
        client.is_active = False
        client.save(update_fields=["is_active"])
        if client.principal_id:
            User.objects.filter(pk=client.principal_id).update(is_active=False)
        audit_record(actor=actor, action="apiClient.revoked", obj=client,
                     before={"isActive": True}, after={"isActive": False})
    return client


def _too_long() -> InvalidInput:
    longest = settings.API_TOKEN_MAX_DAYS
    return InvalidInput(f"A token lasts at most {longest} days; choose {longest} days or fewer.",
                        field="expiresAt", code="tokenLifetimeTooLong")


def personal_token_expiry(*, now: datetime, lifetime_days: int | None = None,
                          expires_at: datetime | None = None) -> datetime:
    """When a token made `now` would end: every token ends, within API_TOKEN_MAX_DAYS.

    Changes nothing: forms ask it before anything else (such as a password) is asked for.
    """
    longest = settings.API_TOKEN_MAX_DAYS
    if lifetime_days is not None and expires_at is not None:
        raise InvalidInput("Give the token's lifetime in days or its expiry date, not both.",
                           field="expiresAt")
    if lifetime_days is not None:
        if isinstance(lifetime_days, bool) or not isinstance(lifetime_days, int):
            raise InvalidInput("Enter a whole number of days, such as 90.", field="expiresAt")
        if lifetime_days < 1:
            raise InvalidInput("A token lasts at least 1 day.", field="expiresAt")
        # Compared before adding: a huge number of days would overflow the date.
        if lifetime_days > longest:
            raise _too_long()
        return now + timedelta(days=lifetime_days)
    if expires_at is None:
        return now + timedelta(days=min(settings.API_TOKEN_DEFAULT_DAYS, longest))
    if expires_at <= now:
        raise InvalidInput("The expiry date must be in the future.", field="expiresAt")
    if expires_at > now + timedelta(days=longest):
        raise _too_long()
    return expires_at


@transaction.atomic
def personal_token_create(*, user: User, name: str, lifetime_days: int | None = None,
                          expires_at: datetime | None = None) -> tuple[PersonalToken, str]:
    """A token that acts as `user`; returned once, never shown again.

    It lasts `lifetime_days` from now or until `expires_at` (at most one of them); with
    neither, settings.API_TOKEN_DEFAULT_DAYS; never more than settings.API_TOKEN_MAX_DAYS.
    """
    if not user.is_active:
        raise NotAllowed("This account is disabled; it cannot have API tokens.")
    clean = clean_name(name, field="name", what="token", max_length=TOKEN_NAME_MAX)
    expires_at = personal_token_expiry(now=clock.now(), lifetime_days=lifetime_days,
                                       expires_at=expires_at)
    prefix, secret, token = _new_secret(PERSON_KIND, PersonalToken, "token_prefix")
    personal = PersonalToken.objects.create(
        user=user, name=clean, token_prefix=prefix, token_hash=make_password(secret),
        expires_at=expires_at)
    audit_record(actor=user, action="personalToken.created", obj=personal,
                 after={"name": clean, "prefix": prefix, "expiresAt": expires_at.isoformat()})
    return personal, token


@transaction.atomic
def personal_token_revoke(*, user: User, token_id) -> PersonalToken:
    """Only the token's owner revokes it; another person's token is "not found"."""
    personal = PersonalToken.objects.select_for_update().filter(pk=token_id, user=user).first()
    if personal is None:
        raise NotFound("This token does not exist or is not yours.", code="tokenNotFound")
    if personal.revoked_at is None:
        personal.revoked_at = clock.now()
        personal.save(update_fields=["revoked_at"])
        audit_record(actor=user, action="personalToken.revoked", obj=personal,
                     after={"revokedAt": personal.revoked_at.isoformat()})
    return personal


def _touch(model, row, now: datetime) -> None:
    """Record use, at most once a LAST_USED_EVERY, by compare-and-set (no lock, no race)."""
    if row.last_used_at is not None and now - row.last_used_at < LAST_USED_EVERY:
        return
    stale = model.objects.filter(pk=row.pk, last_used_at=row.last_used_at)
    if stale.update(last_used_at=now):
        row.last_used_at = now


def token_authenticate(raw: str) -> tuple[User, frozenset[str]] | None:
    """(user, scopes) for a valid token, else None.

    A client acts as its principal (a service user, `user.api_client` is the client) and its
    scopes are its permissions. A person's token is delegated: the API acts as them, with
    read and write scopes, and the selectors limit it to their own rights.
    """
    parsed = _parse(raw)
    if parsed is None:
        return None
    kind, prefix, secret = parsed
    now = clock.now()
    if kind == CLIENT_KIND:
        client = (ApiClient.objects.select_related("principal")
                  .filter(secret_prefix=prefix, is_active=True).first())
        if client is None or not check_password(secret, client.secret_hash):
            return None
        if client.principal is None or not client.principal.is_active:
            return None
        _touch(ApiClient, client, now)
        return client.principal, frozenset(client.permissions)
    personal = (PersonalToken.objects.select_related("user")
                .filter(token_prefix=prefix, revoked_at__isnull=True).first())
    if personal is None or not check_password(secret, personal.token_hash):
        return None
    if personal.expires_at is not None and personal.expires_at <= now:
        return None
    if not personal.user.is_active:
        return None
    _touch(PersonalToken, personal, now)
    return personal.user, frozenset({ApiPermission.READ_WRITE_ALL.value})
