"""Provisioning clients (identity providers pushing people over SCIM): registering one, which
makes its token, revoking it, and checking a presented token.

A token is "scim_<prefix>.<secret>", made and checked as API tokens are
(governance.services.api_tokens); the kinds differ, so a SCIM token opens no Graph API call
and an API token no SCIM one.
"""

from django.db import transaction

from governance import clock
from governance.models import ProvisioningClient, User
from governance.selectors.permissions import is_global_admin
from governance.services.api_tokens import (
    PREFIX_LENGTH,
    _new_secret,
    _principal_for,
    _touch,
    check_password,
    make_password,
)
from governance.services.audit import audit_record
from governance.services.errors import Duplicate, InvalidState, NotAllowed
from governance.services.internal.config_checks import clean_name, max_length
from governance.services.internal.guards import locked_or_not_found

KIND = "scim"
NAME_MAX = max_length(ProvisioningClient, "display_name")


def _require_admin(actor: User | None, system: bool) -> None:
    if not system and (actor is None or not is_global_admin(actor)):
        raise NotAllowed("Only global administrators register and revoke provisioning "
                         "clients.")


@transaction.atomic
def provisioning_client_create(*, actor: User | None, display_name: str,
                               system: bool = False) -> tuple[ProvisioningClient, str]:
    """A new client and its token, which is returned here once and never again. `system`:
    a management command run by whoever runs the server."""
    _require_admin(actor, system)
    name = clean_name(display_name, field="display_name", what="provisioning client",
                      max_length=NAME_MAX)
    if ProvisioningClient.objects.filter(display_name__iexact=name).exists():
        raise Duplicate(f"A provisioning client is named {name} already; choose another name.",
                        code="duplicateName")
    prefix, secret, token = _new_secret(KIND, ProvisioningClient, "token_prefix")
    principal = _principal_for(name, prefix, label="scim-client", superuser=False)
    client = ProvisioningClient.objects.create(
        display_name=name, token_hash=make_password(secret), token_prefix=prefix,
        created_by=actor, principal=principal)
    audit_record(actor=actor, action="provisioningClient.created", obj=client,
                 after={"displayName": name, "tokenPrefix": prefix})
    return client, token


@transaction.atomic
def provisioning_client_revoke(*, actor: User | None, client_id,
                               system: bool = False) -> ProvisioningClient:
    """Its token stops working at once; the people it provisioned stay as they are."""
    _require_admin(actor, system)
    client = locked_or_not_found(ProvisioningClient.objects, client_id,
                                 "There is no such provisioning client.")
    if client.revoked_at is not None:
        raise InvalidState(f"{client.display_name} is revoked already.")
    client.revoked_at = clock.now()
    client.save(update_fields=["revoked_at"])
    audit_record(actor=actor, action="provisioningClient.revoked", obj=client,
                 after={"revokedAt": client.revoked_at.isoformat()})
    return client


def provisioning_client_authenticate(raw: str) -> ProvisioningClient | None:
    """The active client whose token this is, else None (any other token included)."""
    kind, _, rest = (raw or "").partition("_")
    prefix, _, secret = rest.partition(".")
    if kind != KIND or len(prefix) != PREFIX_LENGTH or not secret:
        return None
    client = (ProvisioningClient.objects.select_related("principal")
              .filter(token_prefix=prefix, revoked_at__isnull=True).first())
    if client is None or not check_password(secret, client.token_hash):
        return None
    _touch(ProvisioningClient, client, clock.now())
    return client
