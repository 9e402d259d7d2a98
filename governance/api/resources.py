"""Resources and resource requests: /identityGovernance/entitlementManagement/resources
(accessPackageResource) and …/resourceRequests (accessPackageResourceRequest).

``resources`` lists the resources of every catalog the caller may read. A resource joins or
leaves a catalog through a resource request, as in Graph::

    POST resourceRequests
    {"requestType": "adminAdd", "catalog": {"id": "3"},
     "resource": {"originId": "<group id>", "originSystem": "AadGroup",
                  "displayName": "…", "description": "…"}}

    POST resourceRequests
    {"requestType": "adminRemove", "catalog": {"id": "3"}, "resource": {"id": "<resource id>"}}

(a resource to remove may also be named by its originId and originSystem in the catalog).

The portal's own groups are ``AadGroup`` resources (origin id: the group's id); their
Member and Owner roles are made by services.resources.resource_add. Resources of target
systems are imported by Refresh in the admin, not through requests.

Requests are not a table of ours: a request acts at once, and the audit event its service
writes ("resource.added" / "resource.removed") is its record. The POST answers 201 with that
event's id, ``state: delivered`` and the resource and catalog expanded; GET resourceRequests
lists those events for the catalogs the caller may read (see resources_json).
"""

from django.urls import path
from rest_framework.response import Response

from governance.choices import OriginSystem
from governance.models import Resource
from governance.selectors.visibility import (
    catalogs_visible_to,
    resource_requests_visible_to,
    resources_visible_to,
)
from governance.services.resources import resource_add, resource_remove

from .base import EM, GraphView, context_url, get_or_404, reference_id
from .errors import GraphError
from .graph_json import Body
from .resources_json import (
    REQUEST_TYPES,
    RESOURCE,
    RESOURCE_REQUEST,
    resource_request_events,
)

RESOURCES = f"{EM}/resources"
REQUESTS = f"{EM}/resourceRequests"
REQUEST_PROPERTIES = ("requestType", "resource", "catalog")
RESOURCE_PROPERTIES = ("id", "displayName", "description", "originId", "originSystem")


class ResourceList(GraphView):
    graph_type, is_collection = RESOURCE, True

    def get(self, request):
        return self.collection(resources_visible_to(request.user), RESOURCE, RESOURCES)


class ResourceDetail(GraphView):
    graph_type = RESOURCE

    def get(self, request, resource_id):
        resources = RESOURCE.prefetch(resources_visible_to(request.user), list(RESOURCE.expandable))
        return self.entity(get_or_404(resources, resource_id, "resource"), RESOURCE, RESOURCES)


def _add(actor, catalog, resource: Body) -> Resource:
    origin_system = resource.data.get("originSystem")
    if origin_system != OriginSystem.GROUP:
        if origin_system in OriginSystem.values:
            raise GraphError(
                f"resource.originSystem: resources of '{origin_system}' come from a target "
                "system and are imported with Refresh in the admin; only the portal's groups "
                "('AadGroup') are added through resource requests.")
        raise GraphError(f"resource.originSystem: '{origin_system}' is not one of "
                         f"{', '.join(OriginSystem.values)}; give 'AadGroup'.")
    if resource.has("id"):
        raise GraphError("resource.id: a resource being added has no id yet; "
                         "give its originId and originSystem.")
    group_id = reference_id(resource.data.get("originId"), "resource.originId", "group")
    return resource_add(actor=actor, catalog_id=catalog.pk, group_id=group_id,
                        display_name=resource.text("displayName"),
                        description=resource.text("description"))


def _remove(actor, catalog, resource: Body) -> int:
    """The resource named by its id, or by its origin within the catalog."""
    raw_id = resource.data.get("id")
    origin_id = resource.data.get("originId")
    if raw_id in (None, "") and origin_id not in (None, "") and catalog is not None:
        found = resources_visible_to(actor).filter(
            catalog=catalog, origin_id=str(origin_id),
            origin_system=resource.data.get("originSystem") or OriginSystem.GROUP).first()
        if found is None:
            raise GraphError(f"resource: the catalog '{catalog.pk}' offers no resource with "
                             f"the originId '{origin_id}'.", code="ResourceNotFound", status=404)
    elif raw_id in (None, ""):
        raise GraphError("resource.id: give the id of the resource to remove.")
    else:
        found = get_or_404(resources_visible_to(actor), raw_id, "resource")
    if catalog is not None and found.catalog_id != catalog.pk:
        raise GraphError(f"resource: the resource '{raw_id}' is not in the catalog "
                         f"'{catalog.pk}'.")
    resource_remove(actor=actor, resource_id=found.pk)
    return found.pk


class ResourceRequestList(GraphView):
    graph_type, body_properties, is_collection = RESOURCE_REQUEST, REQUEST_PROPERTIES, True

    def get(self, request):
        visible = resource_requests_visible_to(request.user, resource_request_events())
        return self.collection(visible, RESOURCE_REQUEST, REQUESTS)

    def post(self, request):
        body = Body(self.body(), REQUEST_PROPERTIES, "accessPackageResourceRequest")
        request_type = body.enum("requestType", REQUEST_TYPES)
        if request_type is None:
            raise GraphError("requestType: give adminAdd or adminRemove.")
        resource = Body(body.object("resource") or {}, RESOURCE_PROPERTIES,
                        "accessPackageResource")
        catalog_ref = body.object("catalog")
        catalog = None
        if catalog_ref is not None:
            Body(catalog_ref, ("id",), "accessPackageCatalog")
            catalog = get_or_404(catalogs_visible_to(request.user),
                                 reference_id(catalog_ref, "catalog.id", "catalog"), "catalog")
        if request_type == "adminAdd":
            if catalog is None:
                raise GraphError("catalog: give the id of the catalog to add the resource to.")
            resource_id = _add(request.user, catalog, resource).pk
        else:
            resource_id = _remove(request.user, catalog, resource)
        event = resource_requests_visible_to(request.user, resource_request_events()).filter(
            action=REQUEST_TYPES[request_type], object_id=str(resource_id),
            actor=request.user).order_by("-pk").first()
        event = self.reload(resource_request_events(), event, RESOURCE_REQUEST)
        item = RESOURCE_REQUEST.to_json(event, expand=RESOURCE_REQUEST.expandable)
        return Response({"@odata.context": context_url(request, f"{REQUESTS}/$entity"),
                         **item}, status=201)


urlpatterns = [
    path(RESOURCES, ResourceList.as_view()),
    path(f"{RESOURCES}/<str:resource_id>", ResourceDetail.as_view()),
    path(REQUESTS, ResourceRequestList.as_view()),
]
