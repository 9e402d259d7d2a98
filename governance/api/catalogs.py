"""Catalogs: /identityGovernance/entitlementManagement/catalogs (accessPackageCatalog), and
what they hold: ``catalogs/{id}/resources``, ``catalogs/{id}/resourceRoles`` and
``catalogs/{id}/accessPackages`` (read-only here; resources are added and removed through
``resourceRequests``, packages through ``accessPackages``).

Everyone sees the catalogs where they hold a role (all of them for global administrators and
API clients), as the admin does, and everything in the catalogs they see; creating needs the
catalog creator role, changing and deleting the owner role, as the services decide.
"""

from django.urls import path

from governance.choices import CatalogState
from governance.models import AccessPackage, Catalog, Resource, ResourceRole
from governance.selectors.visibility import catalogs_visible_to
from governance.services.catalogs import catalog_create, catalog_delete, catalog_update

from .base import EM, GraphType, GraphView, get_or_404
from .graph_json import Body
from .resources_json import RESOURCE, ROLE
from .shapes import CATALOG_FIELDS, PACKAGE_BRIEF, catalog_json

CATALOG = GraphType("accessPackageCatalog", CATALOG_FIELDS, catalog_json)
CATALOGS = f"{EM}/catalogs"
CATALOG_PROPERTIES = ("displayName", "description", "state", "isExternallyVisible",
                      "catalogType", "id", "createdDateTime", "modifiedDateTime")


def _catalog_fields(body: Body, current: Catalog | None = None) -> dict:
    """The service's arguments from a POST (defaults) or PATCH (the current values)."""
    return {
        "display_name": body.text("displayName", current.display_name if current else ""),
        "description": body.text("description", current.description if current else ""),
        "state": body.enum("state", CatalogState.values,
                           current.state if current else CatalogState.UNPUBLISHED),
        "is_externally_visible": body.boolean(
            "isExternallyVisible", current.is_externally_visible if current else False),
    }


class CatalogList(GraphView):
    graph_type, body_properties, is_collection = CATALOG, CATALOG_PROPERTIES, True

    def get(self, request):
        return self.collection(catalogs_visible_to(request.user), CATALOG, CATALOGS)

    def post(self, request):
        body = Body(self.body(), CATALOG_PROPERTIES, "accessPackageCatalog")
        catalog = catalog_create(actor=request.user, **_catalog_fields(body))
        return self.entity(catalog, CATALOG, CATALOGS, status=201)


class CatalogDetail(GraphView):
    graph_type, body_properties = CATALOG, CATALOG_PROPERTIES

    def get(self, request, catalog_id):
        catalog = get_or_404(catalogs_visible_to(request.user), catalog_id, "catalog")
        return self.entity(catalog, CATALOG, CATALOGS)

    def patch(self, request, catalog_id):
        catalog = get_or_404(catalogs_visible_to(request.user), catalog_id, "catalog")
        body = Body(self.body(), CATALOG_PROPERTIES, "accessPackageCatalog")
        catalog_update(actor=request.user, catalog_id=catalog.pk,
                       **_catalog_fields(body, catalog))
        return self.no_content()

    def delete(self, request, catalog_id):
        catalog = get_or_404(catalogs_visible_to(request.user), catalog_id, "catalog")
        catalog_delete(actor=request.user, catalog_id=catalog.pk)
        return self.no_content()


class CatalogResourceList(GraphView):
    graph_type, is_collection = RESOURCE, True

    def get(self, request, catalog_id):
        catalog = get_or_404(catalogs_visible_to(request.user), catalog_id, "catalog")
        return self.collection(Resource.objects.filter(catalog=catalog), RESOURCE,
                               f"{CATALOGS}('{catalog.pk}')/resources")


class CatalogResourceDetail(GraphView):
    graph_type = RESOURCE

    def get(self, request, catalog_id, resource_id):
        catalog = get_or_404(catalogs_visible_to(request.user), catalog_id, "catalog")
        resources = RESOURCE.prefetch(Resource.objects.filter(catalog=catalog),
                                      list(RESOURCE.expandable))
        return self.entity(get_or_404(resources, resource_id, "resource"), RESOURCE,
                           f"{CATALOGS}('{catalog.pk}')/resources")


class CatalogResourceRoleList(GraphView):
    graph_type, is_collection = ROLE, True

    def get(self, request, catalog_id):
        catalog = get_or_404(catalogs_visible_to(request.user), catalog_id, "catalog")
        return self.collection(ResourceRole.objects.filter(resource__catalog=catalog), ROLE,
                               f"{CATALOGS}('{catalog.pk}')/resourceRoles")


class CatalogPackageList(GraphView):
    graph_type, is_collection = PACKAGE_BRIEF, True

    def get(self, request, catalog_id):
        catalog = get_or_404(catalogs_visible_to(request.user), catalog_id, "catalog")
        return self.collection(AccessPackage.objects.filter(catalog=catalog), PACKAGE_BRIEF,
                               f"{CATALOGS}('{catalog.pk}')/accessPackages")


urlpatterns = [
    path(f"{CATALOGS}", CatalogList.as_view()),
    path(f"{CATALOGS}/<str:catalog_id>", CatalogDetail.as_view()),
    path(f"{CATALOGS}/<str:catalog_id>/resources", CatalogResourceList.as_view()),
    path(f"{CATALOGS}/<str:catalog_id>/resources/<str:resource_id>",
         CatalogResourceDetail.as_view()),
    path(f"{CATALOGS}/<str:catalog_id>/resourceRoles", CatalogResourceRoleList.as_view()),
    path(f"{CATALOGS}/<str:catalog_id>/accessPackages", CatalogPackageList.as_view()),
]
