"""accessPackage with its navigation properties, and accessPackageResourceRoleScope (groups, as
a package's incompatibleGroups show them, are the directory's)."""

import dataclasses

from django.db.models import Prefetch, QuerySet

from governance.models import AccessPackage, ResourceRoleScope
from governance.selectors.visibility import catalog_packages_visible_to

from . import odata
from .base import GraphType
from .directory import group_json
from .graph_json import instant
from .policy_json import POLICY_FIELDS, policy_json, policy_prefetches, prefetch_policies
from .shapes import PACKAGE_FIELDS, catalog_json, package_json, role_json, scope_json, sid

ROLE_SCOPE_FIELDS = {
    "id": odata.ident("pk"),
    "createdDateTime": odata.instant("created_at"),
    "role/id": odata.ident("role_id"),
    "role/originId": odata.text("role__origin_id"),
    "scope/id": odata.ident("role__resource_id"),
}


def role_scope_json(scope: ResourceRoleScope, expand=()) -> dict:
    """Graph's tutorials always read a scope with its role (and resource) and scope."""
    return {"id": sid(scope.pk), "createdDateTime": instant(scope.created_at),
            "role": role_json(scope.role, expand=("resource",)),
            "scope": scope_json(scope.role.resource)}


def prefetch_role_scopes(queryset: QuerySet, expand=()) -> QuerySet:
    return queryset.select_related("role__resource")


def _role_scopes_query():
    return ResourceRoleScope.objects.select_related("role__resource").order_by("pk")


PACKAGE_EXPANDABLE = ("catalog", "resourceRoleScopes", "assignmentPolicies",
                      "incompatibleAccessPackages", "incompatibleGroups")


def package_full_json(package: AccessPackage, expand=()) -> dict:
    item = package_json(package)
    if "catalog" in expand:
        item["catalog"] = catalog_json(package.catalog)
    if "resourceRoleScopes" in expand:
        item["resourceRoleScopes"] = [role_scope_json(scope)
                                      for scope in package.role_scopes.all()]
    if "assignmentPolicies" in expand:
        policies = sorted(package.policies.all(), key=lambda policy: policy.pk)
        item["assignmentPolicies"] = [policy_json(policy) for policy in policies]
    if "incompatibleAccessPackages" in expand:
        others = sorted(package.incompatible_access_packages.all(), key=lambda p: p.pk)
        item["incompatibleAccessPackages"] = [package_json(other) for other in others]
    if "incompatibleGroups" in expand:
        groups = sorted(package.incompatible_groups.all(), key=lambda group: group.pk)
        item["incompatibleGroups"] = [group_json(group) for group in groups]
    return item


def prefetch_packages(queryset: QuerySet, expand, visible=None) -> QuerySet:
    """The joins of a page of packages; `visible` limits the incompatible packages shown."""
    if visible is None:
        visible = AccessPackage.objects.all()
    queryset = queryset.select_related("catalog")
    if "resourceRoleScopes" in expand:
        queryset = queryset.prefetch_related(Prefetch("role_scopes",
                                                      queryset=_role_scopes_query()))
    if "assignmentPolicies" in expand:
        queryset = queryset.prefetch_related("policies", *policy_prefetches("policies__"))
    if "incompatibleAccessPackages" in expand:
        queryset = queryset.prefetch_related(Prefetch("incompatible_access_packages",
                                                      queryset=visible))
    if "incompatibleGroups" in expand:
        queryset = queryset.prefetch_related("incompatible_groups")
    return queryset


PACKAGE = GraphType("accessPackage", PACKAGE_FIELDS, package_full_json, PACKAGE_EXPANDABLE,
                    prefetch_packages)


def package_type(user) -> GraphType:
    """PACKAGE as `user` reads it: incompatible packages of catalogs they may not read are
    left out, as the services leave them alone."""
    visible = catalog_packages_visible_to(user)
    return dataclasses.replace(
        PACKAGE, prefetch=lambda queryset, expand: prefetch_packages(queryset, expand, visible))


ROLE_SCOPE = GraphType("accessPackageResourceRoleScope", ROLE_SCOPE_FIELDS, role_scope_json,
                       (), prefetch_role_scopes)
POLICY = GraphType("accessPackageAssignmentPolicy", POLICY_FIELDS, policy_json,
                   ("accessPackage", "catalog"), prefetch_policies)
