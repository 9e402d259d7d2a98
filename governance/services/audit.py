"""Writing the audit log; every service calls this inside its transaction."""

from collections.abc import Iterable
from typing import Any

from django.db import models

from governance import clock
from governance.models import AuditEvent, User
from governance.services.internal.bulk import bulk_insert

SYSTEM = "system"


def _actor_label(actor: User | None) -> str:
    return actor.email if actor is not None else SYSTEM


def audit_record(*, actor: User | None, action: str, obj: models.Model,
                 before: dict | None = None, after: dict | None = None,
                 details: dict[str, Any] | None = None) -> AuditEvent:
    return AuditEvent.objects.create(
        at=clock.now(), actor=actor, actor_label=_actor_label(actor), action=action,
        object_type=obj._meta.model_name, object_id=str(obj.pk),
        before=before, after=after, details=details or {},
    )


def audit_saved(*, actor: User | None, obj: models.Model, before: dict | None, after: dict,
                created: str, changed: str) -> None:
    """After a create-or-change service: `created` when there was no `before`, `changed` when
    `after` differs from it, nothing when it does not."""
    if after != before:
        audit_record(actor=actor, obj=obj, before=before, after=after,
                     action=created if before is None else changed)


def audit_record_many(*, actor: User | None, action: str, object_type: str,
                      entries: Iterable[tuple[Any, dict | None, dict | None, dict]]) -> int:
    """One event per (object id, before, after, details), in one INSERT: for the sweeps."""
    at = clock.now()
    label = _actor_label(actor)
    events = [
        AuditEvent(at=at, actor=actor, actor_label=label, action=action,
                   object_type=object_type, object_id=str(object_id),
                   before=before, after=after, details=details or {})
        for object_id, before, after, details in entries
    ]
    bulk_insert(AuditEvent, events)
    return len(events)
