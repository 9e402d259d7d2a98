"""The directory: /v1.0/users, /v1.0/me and /v1.0/groups (Graph's user and group).

Who sees whom: global administrators, API clients and anyone holding a catalog role or a
global role (whoever may use the admin) see all people and all groups; anyone else sees
only themselves and the groups they belong to. API clients' service principals are no
directory users and are never listed. A group's ``members`` and ``owners`` are
directoryObjects (users with ``@odata.type``), limited to the people the caller sees.

POST /groups creates one of the portal's groups (services.groups.group_create); its
creator becomes an owner and can then offer it in a catalog through ``resourceRequests``.

A user shows Graph's directory attributes (department, jobTitle, employeeId, employeeType,
companyName, officeLocation, employeeOrgData's division and costCenter; null when not set)
and accountEnabled. PATCH /users/{id} changes
those (accountEnabled false is the leaver, true re-activates) through
services.people.person_update, which decides who may: user administrators and global
administrators, never for what a provisioning client keeps. Reading users takes
User.Read.All or entitlement management's permissions, changing them User.ReadWrite.All
(permissions.USERS). A user's manager and sponsors are in governance.api.user_links.
"""

from django.urls import path

from governance.choices import GroupMembershipRole, UserType
from governance.models import Group, User
from governance.selectors.visibility import groups_visible_to, users_visible_to
from governance.services.groups import group_create
from governance.services.people import person_update

from . import odata, permissions
from .base import GraphType, GraphView, get_or_404
from .errors import GraphError
from .graph_json import Body, InvalidBody, instant
from .shapes import (
    ORG_DATA_PROPERTIES,
    PROFILE_PROPERTIES,
    USER_FIELDS,
    directory_object_json,
    sid,
    user_json,
)

USERS, GROUPS = "users", "groups"
GROUP_PROPERTIES = ("displayName", "description", "mailEnabled", "mailNickname",
                    "securityEnabled", "groupTypes")
# What PATCH /users/{id} changes; the other properties of a user are the identity provider's
# (over SCIM) or the admin's.
USER_PROPERTIES = (*PROFILE_PROPERTIES, "employeeOrgData", "accountEnabled")

USER = GraphType("user", USER_FIELDS, user_json)


DIRECTORY_OBJECT = GraphType("directoryObject", USER_FIELDS, directory_object_json)

GROUP_FIELDS = {
    "id": odata.ident("pk"),
    "displayName": odata.text("display_name"),
    "description": odata.text("description"),
    "createdDateTime": odata.instant("created_at"),
}


def group_json(group: Group, expand=()) -> dict:
    return {
        "id": sid(group.pk),
        "displayName": group.display_name,
        "description": group.description,
        "createdDateTime": instant(group.created_at),
        "mailEnabled": False,
        "mailNickname": None,
        "securityEnabled": True,
        "groupTypes": [],
    }


GROUP = GraphType("group", GROUP_FIELDS, group_json)


def is_api_client(user: User) -> bool:
    return user.user_type == UserType.SERVICE


def user_or_404(request, raw_id) -> User:
    """The person `raw_id` names among those the caller sees, or Graph's 404 for a
    directory object."""
    text = str(raw_id).strip()
    person = None
    if text.isdigit() and len(text) <= 18:
        person = users_visible_to(request.user).filter(pk=int(text)).first()
    if person is None:
        raise GraphError(f"Resource '{raw_id}' does not exist or one of its queried "
                         "reference-property objects are not present.",
                         code="Request_ResourceNotFound", status=404)
    return person


def _person_changes(data: dict) -> dict:
    """person_update's changes from a PATCH body (null clears an attribute)."""
    fixed = sorted(name for name in data
                   if name in {*USER_FIELDS, "preferredLanguage"} - set(USER_PROPERTIES))
    if fixed:
        raise InvalidBody(f"{fixed[0]}: the API does not change this property of a user; "
                          f"PATCH changes {', '.join(USER_PROPERTIES)}.")
    body = Body(data, USER_PROPERTIES, "user")
    changes = {field: body.text(name) for name, field in PROFILE_PROPERTIES.items()
               if body.has(name)}
    if body.has("employeeOrgData"):
        org_data = Body(body.object("employeeOrgData") or {}, ORG_DATA_PROPERTIES,
                        "employeeOrgData")
        changes.update({field: org_data.text(name)
                        for name, field in ORG_DATA_PROPERTIES.items() if org_data.has(name)})
    if body.has("accountEnabled"):
        changes["active"] = body.boolean("accountEnabled")
    return changes


class UserList(GraphView):
    graph_type, is_collection = USER, True
    graph_permissions = permissions.USERS

    def get(self, request):
        return self.collection(users_visible_to(request.user), USER, USERS)


class UserDetail(GraphView):
    graph_type, body_properties = USER, USER_PROPERTIES
    graph_permissions = permissions.USERS

    def get(self, request, user_id):
        return self.entity(user_or_404(request, user_id), USER, USERS)

    def patch(self, request, user_id):
        person = user_or_404(request, user_id)
        person_update(actor=request.user, user_id=person.pk,
                      changes=_person_changes(self.body()))
        return self.no_content()


class Me(GraphView):
    graph_type = USER

    def get(self, request):
        if is_api_client(request.user):
            raise GraphError("/me request is only valid with delegated authentication flow: "
                             "an API client is no user; ask for /users/{id} instead.")
        return self.entity(request.user, USER, USERS)


def _group_fields(body: Body) -> dict:
    """The service's arguments; the mail and security settings are checked for their types
    only (the portal's groups are security groups without mail)."""
    for name in ("mailEnabled", "securityEnabled"):
        if body.has(name):
            body.boolean(name)
    body.text("mailNickname")
    types = body.items("groupTypes", [])
    if not all(isinstance(value, str) for value in types):
        raise InvalidBody("groupTypes: expected a list of strings.")
    return {"display_name": body.text("displayName"), "description": body.text("description")}


class GroupList(GraphView):
    graph_type, body_properties, is_collection = GROUP, GROUP_PROPERTIES, True

    def get(self, request):
        return self.collection(groups_visible_to(request.user), GROUP, GROUPS)

    def post(self, request):
        body = Body(self.body(), GROUP_PROPERTIES, "group")
        group = group_create(actor=request.user, **_group_fields(body))
        return self.entity(group, GROUP, GROUPS, status=201)


class GroupDetail(GraphView):
    graph_type = GROUP

    def get(self, request, group_id):
        return self.entity(get_or_404(groups_visible_to(request.user), group_id, "group"), GROUP,
                           GROUPS)


class GroupPeople(GraphView):
    """members or owners of a group, as directoryObjects."""

    graph_type, is_collection = DIRECTORY_OBJECT, True
    role = GroupMembershipRole.MEMBER

    def get(self, request, group_id):
        group = get_or_404(groups_visible_to(request.user), group_id, "group")
        people = users_visible_to(request.user).filter(
            pk__in=group.memberships.filter(role=self.role).values("user_id"))
        return self.collection(people, DIRECTORY_OBJECT, "directoryObjects")


class GroupOwners(GroupPeople):
    role = GroupMembershipRole.OWNER


urlpatterns = [
    path("users", UserList.as_view()),
    path("users/<str:user_id>", UserDetail.as_view()),
    path("me", Me.as_view()),
    path("groups", GroupList.as_view()),
    path("groups/<str:group_id>", GroupDetail.as_view()),
    path("groups/<str:group_id>/members", GroupPeople.as_view()),
    path("groups/<str:group_id>/owners", GroupOwners.as_view()),
]
