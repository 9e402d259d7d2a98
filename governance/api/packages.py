"""Access packages: /identityGovernance/entitlementManagement/accessPackages (accessPackage).

Callers see the packages of the catalogs they may read (all of them for global administrators
and API clients), as the admin does; creating, changing and deleting needs the owner or
package manager role, as the services decide. ``filterByCurrentUser(on='allowedRequestor')``
lists what the caller may request, as the "Available" page does. The roles a package grants
and its separation of duties are in package_links.
"""

from django.urls import path, re_path

from governance.models import AccessPackage, AssignmentPolicy
from governance.selectors.packages import packages_visible_to
from governance.selectors.permissions import Capability, scoped
from governance.services.packages import package_create, package_delete, package_update

from . import package_links
from .assignments import current_person, current_user_path
from .base import EM, GraphView, reference_id
from .catalogs import catalog_for
from .errors import GraphError
from .graph_json import Body
from .package_json import PACKAGE, POLICY, package_type
from .package_links import package_for, packages_for

PACKAGES = f"{EM}/accessPackages"
PACKAGE_PROPERTIES = ("displayName", "description", "isHidden", "catalog", "id",
                      "createdDateTime", "modifiedDateTime")


def _package_fields(body: Body, current: AccessPackage, actor) -> dict:
    """package_update's arguments: what the body names, the current values otherwise."""
    return {
        "display_name": body.text("displayName", current.display_name),
        "description": body.text("description", current.description),
        "is_hidden": body.boolean("isHidden", current.is_hidden),
        "incompatible_access_package_ids": package_links.visible_incompatible_ids(current, actor),
        "incompatible_group_ids": list(current.incompatible_groups.values_list("pk",
                                                                              flat=True)),
    }


class PackageList(GraphView):
    graph_type, body_properties, is_collection = PACKAGE, PACKAGE_PROPERTIES, True

    def get(self, request):
        return self.collection(packages_for(request.user), package_type(request.user),
                               PACKAGES)

    def post(self, request):
        body = Body(self.body(), PACKAGE_PROPERTIES, "accessPackage")
        catalog_id = reference_id(body.object("catalog"), "catalog", "catalog")
        catalog = catalog_for(request.user, catalog_id)
        package = package_create(actor=request.user, catalog_id=catalog.pk,
                                 display_name=body.text("displayName"),
                                 description=body.text("description"),
                                 is_hidden=body.boolean("isHidden", False))
        graph_type = package_type(request.user)
        package = self.reload(packages_for(request.user), package, graph_type)
        return self.entity(package, graph_type, PACKAGES, status=201)


class PackageDetail(GraphView):
    graph_type, body_properties = PACKAGE, PACKAGE_PROPERTIES

    def get(self, request, package_id):
        package, graph_type = package_for(request.user, package_id), package_type(request.user)
        return self.entity(self.reload(packages_for(request.user), package, graph_type),
                           graph_type, PACKAGES)

    def patch(self, request, package_id):
        package = package_for(request.user, package_id)
        body = Body(self.body(), PACKAGE_PROPERTIES, "accessPackage")
        if body.has("catalog") and reference_id(body.object("catalog"), "catalog",
                                                "catalog") != package.catalog_id:
            raise GraphError("catalog: a package stays in its catalog.")
        package_update(actor=request.user, package_id=package.pk,
                       **_package_fields(body, package, request.user))
        return self.no_content()

    def delete(self, request, package_id):
        package = package_for(request.user, package_id)
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
        package = package_for(request.user, package_id)
        policies = scoped(AssignmentPolicy.objects.filter(access_package=package),
                          request.user, Capability.READ)
        return self.collection(policies, POLICY, f"{EM}/assignmentPolicies")


urlpatterns = [
    path(PACKAGES, PackageList.as_view()),
    re_path(current_user_path(PACKAGES), PackagesForRequestor.as_view()),
    path(f"{PACKAGES}/<str:package_id>", PackageDetail.as_view()),
    path(f"{PACKAGES}/<str:package_id>/assignmentPolicies", PackagePolicies.as_view()),
    *package_links.urlpatterns,
]
