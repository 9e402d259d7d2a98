"""Writing the audit log; every service calls this inside its transaction."""

import json
from collections.abc import Iterable
from typing import Any

from django.db import connection, models

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


def audit_insert_sql(*, source: str, id_column: str, action: str, object_type: str,
                     after: dict, after_columns: dict[str, str], details: dict
                     ) -> tuple[str, list]:
    """For a set-based service's data-modifying WITH (PostgreSQL): the INSERT (and its
    parameters) of one system event per row of `source`, whose `id_column` is the object id;
    `after` is completed per row by `after_columns` (property → column of `source`)."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    extra = ", ".join(f"'{name}', {source}.{column}" for name, column in after_columns.items())
    query = (f"INSERT INTO {table} (at, actor_id, actor_label, action, object_type, "  # nosec B608  # names from the caller's code, values as parameters
             f"object_id, before, after, details) SELECT %s, NULL, %s, %s, %s, "
             f"{source}.{id_column}::text, NULL, %s::jsonb || jsonb_build_object({extra}), "
             f"%s::jsonb FROM {source} ORDER BY {source}.{id_column}")
    return query, [clock.now(), SYSTEM, action, object_type, json.dumps(after),
                   json.dumps(details)]


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
