"""Target systems (SCIM applications, Microsoft Entra tenants): their configuration by global
administrators, "Test connection", and deleting one nobody uses ("Refresh", which offers a
system's groups and applications as resources of a catalog, is in system_refresh).

A connector's `check()` and `discover()` talk to the network, so they run outside any
transaction (`system_ask`); what they answered is then recorded in one. Secrets are never
returned, logged or audited: the audit log says where a secret comes from, and when a typed
one was replaced.
"""

from urllib.parse import urlsplit

from django.db import transaction

from governance import clock
from governance.choices import SystemKind
from governance.connectors import ConnectorError, connector_for_system
from governance.models import SystemAccount, TargetSystem, User
from governance.security import secrets
from governance.selectors.permissions import Capability, catalog_ids_for, is_global_admin
from governance.services.audit import audit_record
from governance.services.errors import InvalidInput, InvalidState, NotAllowed, NotFound, Refused
from governance.services.internal.config_checks import clean_name, max_length, name_taken
from governance.services.internal.guards import locked_or_not_found
from governance.services.secret_fields import secret_apply, secret_source

NAME_MAX = max_length(TargetSystem, "display_name")
URL_MAX = max_length(TargetSystem, "base_url")
MESSAGE_MAX = 2000
# A POSIX environment variable name; NAME_FILE is read by governance.security.env unnamed.
CONNECTION_FIELDS = ("kind", "baseUrl", "authority", "clientId", "secret")


class SystemUnreachable(Refused):
    """The target system did not answer as it should; the message is its own words."""

    code = "systemError"
    http_status = 502


def _require_global_admin(actor: User | None, doing: str) -> None:
    if actor is None or not is_global_admin(actor):
        raise NotAllowed(f"Only global administrators {doing}.", code="notAllowed")


def system_locked(system_id) -> TargetSystem:
    return locked_or_not_found(TargetSystem.objects, system_id,
                               "This target system no longer exists; someone deleted it.",
                               code="systemNotFound")


def system_or_not_found(system_id) -> TargetSystem:
    system = TargetSystem.objects.filter(pk=system_id).first() if system_id else None
    if system is None:
        raise NotFound("This target system no longer exists; someone deleted it.",
                       code="systemNotFound")
    return system


def _snapshot(system: TargetSystem) -> dict:
    """What the audit log keeps of a system: never the secret, only where it comes from."""
    return {"displayName": system.display_name, "kind": system.kind,
            "baseUrl": system.base_url, "authority": system.authority,
            "clientId": system.client_id, "secret": secret_source(system)}


# Saving


def _clean_url(value: str, *, field_name: str, label: str, https_only: bool) -> str:
    """An absolute http(s) address; any host name, since systems on a private network are
    often named without a domain (http://scim:8080/scim/v2)."""
    url = (value or "").strip()
    needed = "an https:// address" if https_only else "an http:// or https:// address"
    if not url:
        raise InvalidInput(f"Give the {label}: {needed}.", field=field_name,
                           code="urlRequired")
    if len(url) > URL_MAX:
        raise InvalidInput(f"The {label} can have at most {URL_MAX} characters.",
                           field=field_name, code="urlTooLong")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    schemes = {"https"} if https_only else {"http", "https"}
    if (parts is None or parts.scheme.lower() not in schemes or not parts.hostname
            or any(character.isspace() for character in url)):
        raise InvalidInput(f"The {label} must be {needed}, such as https://example.com/path; "
                           f"“{url[:100]}” is not.", field=field_name, code="invalidUrl")
    return url.rstrip("/")


def _clean_connection(kind: str, base_url: str, authority: str,
                      client_id: str) -> tuple[str, str, str]:
    if kind == SystemKind.SCIM:
        if (authority or "").strip() or (client_id or "").strip():
            raise InvalidInput("A SCIM system has no authority or client ID; leave them blank.",
                               field="authority", code="entraFieldsOnScim")
        return _clean_url(base_url, field_name="base_url", label="SCIM base URL",
                          https_only=False), "", ""
    base_url = _clean_url(base_url, field_name="base_url", label="Microsoft Graph base URL",
                          https_only=True)
    authority = _clean_url(authority, field_name="authority", label="authority",
                           https_only=True)
    client_id = " ".join((client_id or "").split())
    if not client_id:
        raise InvalidInput("Give the application (client) ID of the app registration.",
                           field="client_id", code="clientIdRequired")
    if len(client_id) > max_length(TargetSystem, "client_id"):
        raise InvalidInput("The client ID is too long.", field="client_id",
                           code="clientIdTooLong")
    return base_url, authority, client_id


def system_save(*, actor: User, system_id: int | None = None, display_name: str, kind: str,
                base_url: str, authority: str = "", client_id: str = "", secret_env: str = "",
                secret_value: str | None = None) -> TargetSystem:
    """Create (no `system_id`) or change a target system (global administrators only).

    :param secret_env: the environment variable (or NAME_FILE) holding the secret on the
        servers; blank to use a typed secret.
    :param secret_value: a secret typed in, stored encrypted; None or blank keeps the
        stored one. Naming a variable and typing a secret at once is refused.
    :raises InvalidInput: a bad name, kind, URL or variable name; no secret at all.
    :raises InvalidState: the kind would change while resources deliver through it.
    """
    _require_global_admin(actor, "configure target systems")
    name = clean_name(display_name, field="display_name", what="target system",
                      max_length=NAME_MAX)
    if kind not in SystemKind.values:
        raise InvalidInput("Choose the kind of system: SCIM 2.0 or Microsoft Entra.",
                           field="kind", code="invalidKind")
    base_url, authority, client_id = _clean_connection(kind, base_url, authority, client_id)
    with transaction.atomic():
        if system_id is None:
            system, before = TargetSystem(), None
        else:
            system = system_locked(system_id)
            before = _snapshot(system)
        if name_taken(TargetSystem.objects, name, system.pk):
            raise InvalidInput(f"A target system is already named “{name}”.",
                               field="display_name", code="nameTaken")
        if before is not None and kind != system.kind and system.resources.exists():
            raise InvalidState(f"Resources of catalogs deliver into “{system}” as a "
                               f"{system.get_kind_display()} system; its kind cannot change "
                               "while they do.", code="systemInUse")
        system.display_name, system.kind, system.base_url = name, kind, base_url
        system.authority, system.client_id = authority, client_id
        # A newly typed secret changes nothing the snapshot shows, yet is a change.
        typed = secret_apply(system, secret_env=secret_env, secret_value=secret_value,
                             value_field="secret", what="the SCIM bearer token, or the Entra "
                                                        "application's client secret") \
            and not system.secret_env
        after = _snapshot(system)
        changed = [key for key in CONNECTION_FIELDS
                   if before is None or before[key] != after[key]] + (["secret"] if typed
                                                                      else [])
        if before is not None and after == before and not typed:
            return system
        if changed:
            # The last test was of another connection.
            system.last_checked_at, system.last_check_ok = None, None
            system.last_check_message = ""
        system.save()
        audit_record(actor=actor, obj=system, before=before, after=after,
                     action="targetSystem.created" if before is None else "targetSystem.changed",
                     details={"secretReplaced": True} if typed and before is not None else None)
    return system


# Test connection


def may_check(user: User, system: TargetSystem) -> bool:
    """Global administrators, and the owners of a catalog with a resource in the system."""
    if is_global_admin(user):
        return True
    owned = catalog_ids_for(user, Capability.CATALOG) or set()
    return bool(owned) and system.resources.filter(catalog_id__in=owned).exists()


def system_ask(system: TargetSystem, question) -> str:
    """`question(connector)`'s answer; SystemUnreachable with the system's own words."""
    try:
        return question(connector_for_system(system))
    except ConnectorError as exc:
        raise SystemUnreachable(str(exc)[:MESSAGE_MAX] or "The system gave no reason.") \
            from None
    except secrets.SecretUnavailable as exc:
        raise SystemUnreachable(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a broken target must say what broke, not 500
        raise SystemUnreachable(f"{type(exc).__name__}: {exc}"[:MESSAGE_MAX]) from None


def system_check(*, actor: User, system_id: int) -> tuple[bool, str]:
    """Talk to the system with its configured credentials; record and return (ok, message),
    the message being the system's own words.

    :raises NotAllowed: neither a global administrator nor an owner of a catalog using it.
    """
    system = system_or_not_found(system_id)
    if not may_check(actor, system):
        raise NotAllowed("Only global administrators, and the owners of catalogs with "
                         "resources in this system, can test its connection.")
    try:
        ok, message = True, system_ask(system, lambda connector: connector.check())
    except SystemUnreachable as exc:
        ok, message = False, exc.message
    with transaction.atomic():
        system = system_locked(system_id)
        system.last_checked_at, system.last_check_ok = clock.now(), ok
        system.last_check_message = message or ("Connected." if ok else "")
        system.save(update_fields=["last_checked_at", "last_check_ok", "last_check_message"])
        audit_record(actor=actor, action="targetSystem.checked", obj=system,
                     after={"ok": ok, "message": system.last_check_message})
    return ok, system.last_check_message


# Deleting


def system_delete_refusal(system: TargetSystem) -> str | None:
    """Why `system` cannot be deleted now, or None. Reads only."""
    resources = system.resources.count()
    if resources:
        what = "a resource delivers" if resources == 1 else f"{resources} resources deliver"
        return (f"“{system}” cannot be deleted while {what} into it: the record of who held "
                "their roles keeps them.")
    pending = system.accounts.exclude(pending_action="").count()
    if pending:
        return (f"“{system}” cannot be deleted while {pending} account change(s) (block, "
                "unblock or delete) still wait to be made in it.")
    return None


def system_delete(*, actor: User, system_id: int) -> None:
    """Delete a system that no resource uses; the people's account ids in it go with it."""
    _require_global_admin(actor, "delete target systems")
    with transaction.atomic():
        system = system_locked(system_id)
        refusal = system_delete_refusal(system)
        if refusal:
            raise InvalidState(refusal, code="systemInUse")
        accounts = SystemAccount.objects.filter(system=system).count()
        audit_record(actor=actor, action="targetSystem.deleted", obj=system,
                     before=_snapshot(system), details={"accounts": accounts})
        system.delete()


__all__ = ["SystemUnreachable", "may_check", "system_ask", "system_check", "system_delete",
           "system_delete_refusal", "system_locked", "system_or_not_found", "system_save"]
