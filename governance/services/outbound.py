"""The tenant's outbound allow-list: the hosts and networks that custom extensions may call
although they are not public (governance.connectors.outbound says what that means).

Catalog owners choose their extensions' addresses; only a global administrator decides that
one of them may be on this machine or on the portal's own network.
"""

from collections.abc import Iterable

from django.db import transaction

from governance.connectors.outbound import normalise_entry
from governance.models import TenantSettings, User
from governance.selectors.permissions import is_global_admin
from governance.services.audit import audit_record
from governance.services.errors import InvalidInput, NotAllowed

FIELD = "outbound_allow_list"
MAX_ENTRIES = 100


def _entries(entries: Iterable[str] | str) -> list[str]:
    lines = entries.splitlines() if isinstance(entries, str) else list(entries)
    cleaned: list[str] = []
    for line in lines:
        if not isinstance(line, str):
            raise InvalidInput("Give each host, address or network as text, one per line.",
                               field=FIELD, code="invalidAllowListEntry")
        if not line.strip() or line.strip().startswith("#"):
            continue
        try:
            entry = normalise_entry(line)
        except ValueError as exc:
            raise InvalidInput(str(exc), field=FIELD, code="invalidAllowListEntry") from None
        if entry not in cleaned:
            cleaned.append(entry)
    if len(cleaned) > MAX_ENTRIES:
        raise InvalidInput(f"The allow-list holds at most {MAX_ENTRIES} entries: list networks "
                           "(10.20.0.0/16) rather than each of their addresses.", field=FIELD,
                           code="allowListTooLong")
    return cleaned


def outbound_allow_list_set(*, actor: User | None,
                            entries: Iterable[str] | str) -> TenantSettings:
    """Make `entries` (host names, IP addresses, CIDR networks; or text, one per line) the
    whole allow-list. Extensions already saved are checked again when they are called.

    :raises NotAllowed: the actor is not a global administrator.
    :raises InvalidInput: an entry is none of those (field outbound_allow_list).
    """
    if actor is None or not is_global_admin(actor):
        raise NotAllowed("Only global administrators change the tenant settings.")
    wanted = _entries(entries)
    with transaction.atomic():
        TenantSettings.current()
        settings = TenantSettings.objects.select_for_update().get(pk=1)
        before = list(settings.outbound_allow_list)
        if wanted != before:
            settings.outbound_allow_list = wanted
            settings.save(update_fields=["outbound_allow_list"])
            audit_record(actor=actor, action="tenantSettings.outboundAllowListChanged",
                         obj=settings, before={"outboundAllowList": before},
                         after={"outboundAllowList": wanted})
    return settings
