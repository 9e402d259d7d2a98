"""The JSON of the entity types that many endpoints show or expand: users and subjects,
catalogs, resources and their roles and scopes, access packages. Graph's property names; ids
are strings, as Graph's are.

Each ``*_json(obj, expand=())`` gives the entity without navigation properties unless named
in ``expand``; the ``*_FIELDS`` maps are what ``$filter``, ``$select`` and ``$orderby`` name.
"""

from governance.choices import UserType
from governance.models import AccessPackage, Catalog, Resource, ResourceRole, User

from . import odata
from .base import GraphType
from .graph_json import instant

# The namespace of Graph's type names in "@odata.type": "#microsoft.graph.singleUser".
GRAPH = "#microsoft.graph."


def sid(pk) -> str | None:
    return None if pk is None else str(pk)


# Users (Graph's user) and subjects (accessPackageSubject)

USER_TYPES = {UserType.MEMBER: "Member", UserType.GUEST: "Guest"}

# The directory attributes of a person (User.PROFILE_FIELDS) that Graph's user has at its top
# level, Graph's name → the model's (division and cost centre are Graph's employeeOrgData).
PROFILE_PROPERTIES = {
    "department": "department", "jobTitle": "job_title", "employeeId": "employee_id",
    "employeeType": "employee_type", "companyName": "company_name",
    "officeLocation": "office_location",
}

# Graph's employeeOrgData: {division, costCenter}, the rest of User.PROFILE_FIELDS.
ORG_DATA_PROPERTIES = {"division": "division", "costCenter": "cost_center"}

USER_FIELDS = {
    "id": odata.ident("pk"),
    "displayName": odata.text("display_name"),
    "mail": odata.text("email"),
    "userPrincipalName": odata.text("email"),
    "userType": odata.enum("user_type", {"Member": UserType.MEMBER, "Guest": UserType.GUEST}),
    "accountEnabled": odata.boolean("is_active"),
    "createdDateTime": odata.instant("date_joined"),
    **{name: odata.text(field) for name, field in PROFILE_PROPERTIES.items()},
    **{f"employeeOrgData/{name}": odata.text(field)
       for name, field in ORG_DATA_PROPERTIES.items()},
}


def user_json(user: User, expand=()) -> dict:
    return {
        "id": sid(user.pk),
        "displayName": user.display_name or user.email,
        "mail": user.email,
        "userPrincipalName": user.email,
        "userType": USER_TYPES.get(user.user_type, "Member"),
        "accountEnabled": bool(user.is_active and user.account_state == "active"),
        "preferredLanguage": user.preferred_language or None,
        "createdDateTime": instant(user.date_joined),
        # Graph writes an attribute nobody set as null.
        **{name: getattr(user, field) or None for name, field in PROFILE_PROPERTIES.items()},
        "employeeOrgData": {name: getattr(user, field) or None
                            for name, field in ORG_DATA_PROPERTIES.items()},
    }


def directory_object_json(user: User, expand=()) -> dict:
    """A user where Graph lists directoryObjects (group members, sponsors): typed."""
    return {"@odata.type": f"{GRAPH}user", **user_json(user)}


def subject_json(user: User | None) -> dict | None:
    """accessPackageSubject: the person a request or assignment is for."""
    if user is None:
        return None
    return {
        "id": sid(user.pk),
        "objectId": sid(user.pk),
        "displayName": user.display_name or user.email,
        "email": user.email,
        "principalName": user.email,
        "subjectType": "user",
        "subjectLifecycle": user.subject_lifecycle,
    }


# Catalogs

CATALOG_FIELDS = {
    "id": odata.ident("pk"),
    "displayName": odata.text("display_name"),
    "description": odata.text("description"),
    "state": odata.enum("state", ["published", "unpublished"]),
    "isExternallyVisible": odata.boolean("is_externally_visible"),
    "createdDateTime": odata.instant("created_at"),
    "modifiedDateTime": odata.instant("modified_at"),
}


def catalog_json(catalog: Catalog, expand=()) -> dict:
    return {
        "id": sid(catalog.pk),
        "displayName": catalog.display_name,
        "description": catalog.description,
        "catalogType": "userManaged",
        "state": catalog.state,
        "isExternallyVisible": catalog.is_externally_visible,
        "createdDateTime": instant(catalog.created_at),
        "modifiedDateTime": instant(catalog.modified_at),
    }


# Resources, their roles, and their (root) scope

RESOURCE_FIELDS = {
    "id": odata.ident("pk"),
    "displayName": odata.text("display_name"),
    "description": odata.text("description"),
    "originId": odata.text("origin_id"),
    "originSystem": odata.text("origin_system"),
    "createdDateTime": odata.instant("created_at"),
}

ROLE_FIELDS = {
    "id": odata.ident("pk"),
    "displayName": odata.text("display_name"),
    "originId": odata.text("origin_id"),
    "originSystem": odata.text("resource__origin_system"),
    "resource/id": odata.ident("resource_id"),
    "resource/originId": odata.text("resource__origin_id"),
}


def scope_json(resource: Resource) -> dict:
    """accessPackageResourceScope: each resource has one, its root, with the resource's id."""
    return {
        "id": sid(resource.pk),
        "displayName": "Root",
        "description": "Root Scope",
        "originId": resource.origin_id,
        "originSystem": resource.origin_system,
        "isRootScope": True,
    }


def resource_json(resource: Resource, expand=()) -> dict:
    item = {
        "id": sid(resource.pk),
        "displayName": resource.display_name,
        "description": resource.description,
        "originId": resource.origin_id,
        "originSystem": resource.origin_system,
        "createdDateTime": instant(resource.created_at),
    }
    if "roles" in expand:
        item["roles"] = [role_json(role) for role in resource.roles.all()]
    if "scopes" in expand:
        item["scopes"] = [scope_json(resource)]
    return item


def role_json(role: ResourceRole, expand=()) -> dict:
    """Reading `role.resource` costs a query unless the caller joined it (select_related)."""
    item = {
        "id": sid(role.pk),
        "displayName": role.display_name,
        "description": "",
        "originId": role.origin_id,
        "originSystem": role.resource.origin_system,
    }
    if "resource" in expand:
        item["resource"] = resource_json(role.resource)
    return item


# Access packages (without their navigation properties; governance.api.packages adds them)

PACKAGE_FIELDS = {
    "id": odata.ident("pk"),
    "displayName": odata.text("display_name"),
    "description": odata.text("description"),
    "isHidden": odata.boolean("is_hidden"),
    "catalog/id": odata.ident("catalog_id"),
    "createdDateTime": odata.instant("created_at"),
    "modifiedDateTime": odata.instant("modified_at"),
}


def package_json(package: AccessPackage, expand=()) -> dict:
    return {
        "id": sid(package.pk),
        "displayName": package.display_name,
        "description": package.description,
        "isHidden": package.is_hidden,
        "createdDateTime": instant(package.created_at),
        "modifiedDateTime": instant(package.modified_at),
    }


# An access package without its navigation properties, where a catalog lists its packages or
# a request or assignment names its own (governance.api.package_json has the full type).
PACKAGE_BRIEF = GraphType("accessPackage", PACKAGE_FIELDS, package_json)
