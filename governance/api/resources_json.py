"""The Graph types of catalog contents: accessPackageResource, accessPackageResourceRole, and
accessPackageResourceRequest, whose records are the audit events of the resource services.

A resource request is not a table of ours: adding or removing a resource acts at once, and
the service's audit event ("resource.added" / "resource.removed", with the resource's
snapshot and ``details["catalog"]``) is the record of it. So a request's id is its audit
event's id, its state is always ``delivered``, and its ``resource`` is read from the event's
snapshot (the resource may be gone since).
"""

import datetime

from django.db.models import BigIntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, JSONObject

from governance.models import AuditEvent, Catalog, ResourceRole

from . import odata
from .base import GraphType
from .graph_json import instant
from .shapes import RESOURCE_FIELDS, ROLE_FIELDS, catalog_json, resource_json, role_json, sid

# Resources and their roles


def _resources_prefetch(queryset: QuerySet, expand) -> QuerySet:
    if "roles" in expand:
        roles = ResourceRole.objects.order_by("display_name", "pk")
        queryset = queryset.prefetch_related(Prefetch("roles", queryset=roles))
    return queryset


RESOURCE = GraphType("accessPackageResource", RESOURCE_FIELDS, resource_json,
                     expandable=("roles", "scopes"), prefetch=_resources_prefetch)

# role_json reads the role's resource: always joined, expanded or not.
ROLE = GraphType("accessPackageResourceRole", ROLE_FIELDS, role_json, expandable=("resource",),
                 prefetch=lambda queryset, expand: queryset.select_related("resource"))


# Resource requests (audit events)

REQUEST_TYPES = {"adminAdd": "resource.added", "adminRemove": "resource.removed"}
REQUEST_TYPE_OF = {action: name for name, action in REQUEST_TYPES.items()}

REQUEST_FIELDS = {
    "id": odata.ident("pk"),
    "requestType": odata.enum("action", REQUEST_TYPES),
    "createdDateTime": odata.instant("at"),
    "catalog/id": odata.ident("catalog_pk"),
    "resource/id": odata.ident("object_id"),
    "resource/originId": odata.text("resource_origin_id", sortable=False),
    "resource/originSystem": odata.text("resource_origin_system", sortable=False),
}


def _snapshot_key(key: str):
    return Coalesce(KT(f"after__{key}"), KT(f"before__{key}"))


def resource_request_events() -> QuerySet:
    """Every resource request on record, with its catalog's id (``catalog_pk``) and its
    resource's origin, read from the event, annotated for filtering."""
    return AuditEvent.objects.filter(action__in=REQUEST_TYPE_OF, object_type="resource") \
        .annotate(catalog_pk=Cast(KT("details__catalog"), BigIntegerField()),
                  resource_origin_id=_snapshot_key("originId"),
                  resource_origin_system=_snapshot_key("originSystem"))


_CATALOG_ROW = JSONObject(id="id", display_name="display_name", description="description",
                          state="state", is_externally_visible="is_externally_visible",
                          created_at="created_at", modified_at="modified_at")


def _requests_prefetch(queryset: QuerySet, expand) -> QuerySet:
    """The catalog is joined as one JSON column, so a page costs one query."""
    if "catalog" in expand:
        rows = Catalog.objects.filter(pk=OuterRef("catalog_pk")).values(row=_CATALOG_ROW)[:1]
        queryset = queryset.annotate(catalog_row=Subquery(rows))
    return queryset


class _CatalogRow:
    """A catalog as the annotation gives it, read by shapes.catalog_json."""

    def __init__(self, row: dict):
        self.pk = row["id"]
        self.display_name = row["display_name"]
        self.description = row["description"]
        self.state = row["state"]
        self.is_externally_visible = row["is_externally_visible"]
        self.created_at = _when(row["created_at"])
        self.modified_at = _when(row["modified_at"])


def _when(value) -> datetime.datetime | None:
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(value)


def _request_resource_json(event: AuditEvent) -> dict:
    snapshot = event.after or event.before or {}
    return {
        "id": event.object_id,
        "displayName": snapshot.get("displayName"),
        "originId": snapshot.get("originId"),
        "originSystem": snapshot.get("originSystem"),
    }


def resource_request_json(event: AuditEvent, expand=()) -> dict:
    item = {
        "id": sid(event.pk),
        "requestType": REQUEST_TYPE_OF[event.action],
        "state": "delivered",
        "createdDateTime": instant(event.at),
    }
    if "resource" in expand:
        item["resource"] = _request_resource_json(event)
    if "catalog" in expand:
        row = getattr(event, "catalog_row", None)
        item["catalog"] = catalog_json(_CatalogRow(row)) if row else None
    return item


RESOURCE_REQUEST = GraphType("accessPackageResourceRequest", REQUEST_FIELDS,
                             resource_request_json, expandable=("resource", "catalog"),
                             prefetch=_requests_prefetch)
