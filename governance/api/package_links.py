"""What an access package links to: the roles it grants (resourceRoleScopes) and its
separation of duties (incompatibleAccessPackages, incompatibleGroups, and the packages that
name it: accessPackagesIncompatibleWith). Graph's paths::

    POST   accessPackages/{id}/resourceRoleScopes            (role + scope, as Graph writes)
    GET    accessPackages/{id}/resourceRoleScopes[/{scopeId}]
    DELETE accessPackages/{id}/resourceRoleScopes/{scopeId}
    GET    accessPackages/{id}/incompatibleAccessPackages
    POST   accessPackages/{id}/incompatibleAccessPackages/$ref {"@odata.id": "…/accessPackages/7"}
    DELETE accessPackages/{id}/incompatibleAccessPackages/{otherId}/$ref
    (the same for incompatibleGroups, with ".../groups/3")
    GET    accessPackages/{id}/accessPackagesIncompatibleWith
"""


from django.urls import path

from governance.models import AccessPackage, ResourceRole
from governance.selectors.visibility import Capability, catalog_packages_visible_to
from governance.services.packages import (
    package_incompatible_add,
    package_incompatible_group_add,
    package_incompatible_group_remove,
    package_incompatible_remove,
    package_role_add,
    package_role_remove,
)

from .base import EM, GraphView, ResourceNotFound, get_or_404, referenced_id
from .directory import GROUP
from .errors import GraphError
from .graph_json import Body, reject_unknown
from .package_json import PACKAGE, ROLE_SCOPE, package_type

PACKAGES = f"{EM}/accessPackages"


def visible_package(user, package_id) -> AccessPackage:
    return get_or_404(catalog_packages_visible_to(user), package_id, "access package")


# Resource role scopes

ROLE_SCOPE_PROPERTIES = ("role", "scope", "id", "createdDateTime")
ROLE_PROPERTIES = ("id", "displayName", "description", "originId", "originSystem", "resource")
RESOURCE_PROPERTIES = ("id", "displayName", "description", "originId", "originSystem",
                       "createdDateTime", "resourceType")
SCOPE_PROPERTIES = ("id", "displayName", "description", "originId", "originSystem",
                    "isRootScope")


def _nested(body: Body, name: str, allowed, type_name: str) -> dict:
    value = body.object(name)
    if value is None:
        raise GraphError(f"{name}: give the {type_name}.")
    reject_unknown(value, allowed, f"{name} ({type_name})")
    return value


def _find_role(user, package: AccessPackage, role: dict) -> ResourceRole:
    """The role a Graph body names: by id, else by resource id and role originId, else by the
    resource's originSystem and originId and the role's originId (in the package's catalog)."""
    resource = role.get("resource") or {}
    if not isinstance(resource, dict):
        raise GraphError("role.resource: expected a JSON object.")
    reject_unknown(resource, RESOURCE_PROPERTIES, "role.resource (accessPackageResource)")
    readable = ResourceRole.objects.select_related("resource").restrict(user, Capability.READ)
    if role.get("id"):
        candidates = readable.filter(pk=_digits(role["id"], "role.id"))
    elif resource.get("id") and role.get("originId"):
        candidates = readable.filter(resource_id=_digits(resource["id"], "role.resource.id"),
                                     origin_id=str(role["originId"]))
    elif resource.get("originId") and role.get("originId"):
        candidates = readable.filter(
            resource__catalog_id=package.catalog_id, origin_id=str(role["originId"]),
            resource__origin_id=str(resource["originId"]),
            resource__origin_system=str(resource.get("originSystem") or
                                        role.get("originSystem") or "AadGroup"))
    else:
        raise GraphError("role: give the role's id, or its originId with the resource's id "
                         "(or the resource's originId and originSystem).")
    found = candidates.first()
    if found is None:
        raise ResourceNotFound("role: no resource role matches; add the resource to the "
                               "package's catalog first.")
    if found.resource.catalog_id != package.catalog_id:
        raise GraphError(f"role: “{found}” is a role of another catalog's resource; a package "
                         "grants roles of its own catalog's resources.")
    return found


def _digits(raw, field_name: str) -> int:
    text = str(raw).strip()
    if not text.isdigit() or len(text) > 18:
        raise ResourceNotFound(f"{field_name}: nothing has the id '{raw}'.")
    return int(text)


def _check_scope(scope: dict, role: ResourceRole) -> None:
    resource = role.resource
    if scope.get("id") not in (None, "") and str(scope["id"]) != str(resource.pk):
        raise GraphError(f"scope.id: '{scope['id']}' is not a scope of “{resource}”; its only "
                         f"scope is its root, '{resource.pk}'.")
    if scope.get("originId") not in (None, "") and str(scope["originId"]) != resource.origin_id:
        raise GraphError(f"scope.originId: '{scope['originId']}' is not a scope of "
                         f"“{resource}”; its only scope is its root, '{resource.origin_id}'.")


class RoleScopeList(GraphView):
    graph_type, body_properties, is_collection = ROLE_SCOPE, ROLE_SCOPE_PROPERTIES, True

    def get(self, request, package_id):
        package = visible_package(request.user, package_id)
        return self.collection(package.role_scopes.all(), ROLE_SCOPE,
                               f"{PACKAGES}('{package.pk}')/resourceRoleScopes")

    def post(self, request, package_id):
        package = visible_package(request.user, package_id)
        body = Body(self.body(), ROLE_SCOPE_PROPERTIES, "accessPackageResourceRoleScope")
        role_body = _nested(body, "role", ROLE_PROPERTIES, "accessPackageResourceRole")
        scope_body = _nested(body, "scope", SCOPE_PROPERTIES, "accessPackageResourceScope")
        role = _find_role(request.user, package, role_body)
        _check_scope(scope_body, role)
        scope = package_role_add(actor=request.user, package_id=package.pk, role_id=role.pk)
        scope = self.reload(package.role_scopes.all(), scope, ROLE_SCOPE)
        return self.entity(scope, ROLE_SCOPE,
                           f"{PACKAGES}('{package.pk}')/resourceRoleScopes", status=201)


class RoleScopeDetail(GraphView):
    graph_type = ROLE_SCOPE

    def get(self, request, package_id, scope_id):
        package = visible_package(request.user, package_id)
        scope = get_or_404(package.role_scopes.select_related("role__resource"), scope_id,
                           "resource role scope")
        return self.entity(scope, ROLE_SCOPE, f"{PACKAGES}('{package.pk}')/resourceRoleScopes")

    def delete(self, request, package_id, scope_id):
        package = visible_package(request.user, package_id)
        scope = get_or_404(package.role_scopes.all(), scope_id, "resource role scope")
        package_role_remove(actor=request.user, package_id=package.pk, role_id=scope.role_id)
        return self.no_content()


# Separation of duties

class IncompatiblePackages(GraphView):
    graph_type, is_collection = PACKAGE, True

    def get(self, request, package_id):
        package = visible_package(request.user, package_id)
        return self.collection(
            package.incompatible_access_packages.restrict(request.user, Capability.READ),
            package_type(request.user), f"{PACKAGES}('{package.pk}')/incompatibleAccessPackages")


class IncompatiblePackageRefs(GraphView):
    body_properties = ("@odata.id",)

    def post(self, request, package_id):
        package = visible_package(request.user, package_id)
        raw = referenced_id(self.body(), "accessPackages", "access package")
        other = get_or_404(catalog_packages_visible_to(request.user), raw, "access package")
        package_incompatible_add(actor=request.user, package_id=package.pk,
                                 other_package_id=other.pk)
        return self.no_content()

    def delete(self, request, package_id):
        """DELETE …/incompatibleAccessPackages/$ref?$id=<URL of the other package>."""
        raw = referenced_id({"@odata.id": request.query_params.get("$id")},
                            "accessPackages", "access package")
        return _drop_package(request, package_id, raw)


def _drop_package(request, package_id, other_id):
    package = visible_package(request.user, package_id)
    package_incompatible_remove(actor=request.user, package_id=package.pk,
                                other_package_id=_digits(other_id, "access package"))
    return GraphView.no_content()


class IncompatiblePackageRef(GraphView):
    def delete(self, request, package_id, other_id):
        return _drop_package(request, package_id, other_id)


class IncompatibleGroups(GraphView):
    graph_type, is_collection = GROUP, True

    def get(self, request, package_id):
        package = visible_package(request.user, package_id)
        return self.collection(package.incompatible_groups.all(), GROUP,
                               f"{PACKAGES}('{package.pk}')/incompatibleGroups")


class IncompatibleGroupRefs(GraphView):
    body_properties = ("@odata.id",)

    def post(self, request, package_id):
        package = visible_package(request.user, package_id)
        raw = referenced_id(self.body(), "groups", "group")
        package_incompatible_group_add(actor=request.user, package_id=package.pk,
                                       group_id=_digits(raw, "@odata.id"))
        return self.no_content()

    def delete(self, request, package_id):
        """DELETE …/incompatibleGroups/$ref?$id=<URL of the group>."""
        raw = referenced_id({"@odata.id": request.query_params.get("$id")},
                            "groups", "group")
        return _drop_group(request, package_id, raw)


def _drop_group(request, package_id, group_id):
    package = visible_package(request.user, package_id)
    package_incompatible_group_remove(actor=request.user, package_id=package.pk,
                                      group_id=_digits(group_id, "group"))
    return GraphView.no_content()


class IncompatibleGroupRef(GraphView):
    def delete(self, request, package_id, group_id):
        return _drop_group(request, package_id, group_id)


class IncompatibleWith(GraphView):
    graph_type, is_collection = PACKAGE, True

    def get(self, request, package_id):
        package = visible_package(request.user, package_id)
        return self.collection(
            package.incompatible_with.restrict(request.user, Capability.READ),
            package_type(request.user),
            f"{PACKAGES}('{package.pk}')/accessPackagesIncompatibleWith")


_ONE = f"{PACKAGES}/<str:package_id>"
urlpatterns = [
    path(f"{_ONE}/resourceRoleScopes", RoleScopeList.as_view()),
    path(f"{_ONE}/resourceRoleScopes/<str:scope_id>", RoleScopeDetail.as_view()),
    path(f"{_ONE}/incompatibleAccessPackages", IncompatiblePackages.as_view()),
    path(f"{_ONE}/incompatibleAccessPackages/$ref", IncompatiblePackageRefs.as_view()),
    path(f"{_ONE}/incompatibleAccessPackages/<str:other_id>/$ref",
         IncompatiblePackageRef.as_view()),
    path(f"{_ONE}/incompatibleGroups", IncompatibleGroups.as_view()),
    path(f"{_ONE}/incompatibleGroups/$ref", IncompatibleGroupRefs.as_view()),
    path(f"{_ONE}/incompatibleGroups/<str:group_id>/$ref", IncompatibleGroupRef.as_view()),
    path(f"{_ONE}/accessPackagesIncompatibleWith", IncompatibleWith.as_view()),
]
