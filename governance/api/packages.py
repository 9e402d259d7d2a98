"""Access packages: /identityGovernance/entitlementManagement/accessPackages (accessPackage).

Callers see the packages of the catalogs they may read (all of them for global administrators
and API clients), as the admin does; creating, changing and deleting needs the owner or
package manager role, as the services decide. ``filterByCurrentUser(on='allowedRequestor')``
lists what the caller may request, as the "Available" page does. The roles a package grants
and its separation of duties are in package_links.
"""

from django.urls import path, re_path

from governance.selectors.packages import packages_visible_to
from governance.selectors.visibility import (
    catalog_packages_visible_to,
    catalogs_visible_to,
    policies_visible_to,
)
from governance.services.packages import package_create, package_delete, package_update

from . import package_links
from .assignments import current_person, current_user_path
from .base import EM, GraphView, get_or_404, reference_id
from .errors import GraphError
from .graph_json import Body
from .package_json import PACKAGE, POLICY, package_type
from .package_links import visible_package

PACKAGES = f"{EM}/accessPackages"
PACKAGE_PROPERTIES = ("displayName", "description", "isHidden", "catalog", "id",
                      "createdDateTime", "modifiedDateTime")


def _package_changes(body: Body) -> dict:
    """package_update's arguments for what the body names; the service keeps the rest as it
    is under its lock, where values read here could undo a change made in between."""
    return {
        "display_name": body.text("displayName") if body.has("displayName") else None,
        "description": body.text("description") if body.has("description") else None,
        "is_hidden": body.boolean("isHidden", False) if body.has("isHidden") else None,
    }


class PackageList(GraphView):
    graph_type, body_properties, is_collection = PACKAGE, PACKAGE_PROPERTIES, True

    def get(self, request):
        return self.collection(catalog_packages_visible_to(request.user),
                               package_type(request.user), PACKAGES)

    def post(self, request):
        body = Body(self.body(), PACKAGE_PROPERTIES, "accessPackage")
        catalog_id = reference_id(body.object("catalog"), "catalog", "catalog")
        catalog = get_or_404(catalogs_visible_to(request.user), catalog_id, "catalog")
        package = package_create(actor=request.user, catalog_id=catalog.pk,
                                 display_name=body.text("displayName"),
                                 description=body.text("description"),
                                 is_hidden=body.boolean("isHidden", False))
        graph_type = package_type(request.user)
        package = self.reload(catalog_packages_visible_to(request.user), package, graph_type)
        return self.entity(package, graph_type, PACKAGES, status=201)


class PackageDetail(GraphView):
    graph_type, body_properties = PACKAGE, PACKAGE_PROPERTIES

    def get(self, request, package_id):
        package, graph_type = visible_package(request.user, package_id), package_type(request.user)
        visible = catalog_packages_visible_to(request.user)
        return self.entity(self.reload(visible, package, graph_type), graph_type, PACKAGES)

    def patch(self, request, package_id):
        package = visible_package(request.user, package_id)
        body = Body(self.body(), PACKAGE_PROPERTIES, "accessPackage")
        if body.has("catalog") and reference_id(body.object("catalog"), "catalog",
                                                "catalog") != package.catalog_id:
            raise GraphError("catalog: a package stays in its catalog.")
        package_update(actor=request.user, package_id=package.pk,
                       **_package_changes(body))
        return self.no_content()

    def delete(self, request, package_id):
        package = visible_package(request.user, package_id)
        package_delete(actor=request.user, package_id=package.pk)
        return self.no_content()


class PackagesForRequestor(GraphView):
    """accessPackages/filterByCurrentUser(on='allowedRequestor'): what the caller may ask for."""

    graph_type, is_collection = PACKAGE, True

    def get(self, request, on):
        person = current_person(request, on, ("allowedRequestor",))
        return self.collection(packages_visible_to(person), package_type(person), PACKAGES)


class PackagePolicies(GraphView):
    graph_type, is_collection = POLICY, True

    def get(self, request, package_id):
        package = visible_package(request.user, package_id)
        policies = policies_visible_to(request.user).filter(access_package=package)
        return self.collection(policies, POLICY, f"{EM}/assignmentPolicies")


urlpatterns = [
    path(PACKAGES, PackageList.as_view()),
    re_path(current_user_path(PACKAGES), PackagesForRequestor.as_view()),
    path(f"{PACKAGES}/<str:package_id>", PackageDetail.as_view()),
    path(f"{PACKAGES}/<str:package_id>/assignmentPolicies", PackagePolicies.as_view()),
    *package_links.urlpatterns,
]
