"""The directory behind tests/graph_server.py: users, groups, service principals and app role
assignments in memory, answering the Microsoft Graph v1.0 calls the Entra connector makes
with Graph's own shapes, statuses and error messages."""

import itertools
import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

# The filter the connector lists enterprise applications with.
ENTERPRISE_APPS = "tags/any(t:t eq 'WindowsAzureActiveDirectoryIntegratedApp')"
ENTERPRISE_TAG = "WindowsAzureActiveDirectoryIntegratedApp"
DEFAULT_ACCESS_ROLE = "00000000-0000-0000-0000-000000000000"


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message,
                          "innerError": {"request-id": str(uuid.uuid4())}}}


def not_found(object_id: str) -> GraphError:
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{object_id}' does not exist or one of its queried "
                      "reference-property objects are not present.")


def _equalities(text: str, allowed: set[str]) -> list[tuple[str, str]]:
    """`a eq 'x' or b eq 'y'` (and `principalId eq <guid>`) as [(a, x), (b, y)]."""
    clauses = []
    for clause in re.split(r"\s+or\s+", text.strip()):
        match = re.fullmatch(r"(\w+) eq (?:'((?:[^']|'')*)'|([0-9a-fA-F-]{36}))", clause.strip())
        if not match or match[1] not in allowed:
            raise GraphError(400, "BadRequest", f"Invalid filter clause: {clause}")
        clauses.append((match[1], (match[2] or "").replace("''", "'") or match[3]))
    return clauses


@dataclass
class Directory:
    origin: str
    tenant_id: str
    tenant_name: str = "Contoso"
    page_size: int = 100
    users: dict[str, dict] = field(default_factory=dict)
    groups: dict[str, dict] = field(default_factory=dict)
    service_principals: dict[str, dict] = field(default_factory=dict)
    assignments: dict[str, dict] = field(default_factory=dict)
    invitations: list[dict] = field(default_factory=list)

    # -- seeding, for the tests -------------------------------------------------------------

    def add_user(self, mail: str, *, user_type: str = "Member", upn: str = "",
                 display_name: str = "") -> str:
        user_id = str(uuid.uuid4())
        self.users[user_id] = {
            "id": user_id, "displayName": display_name or mail.split("@")[0], "mail": mail,
            "userPrincipalName": upn or mail, "userType": user_type, "accountEnabled": True}
        return user_id

    def add_group(self, display_name: str, *, group_types=(), mail_enabled=False) -> str:
        group_id = str(uuid.uuid4())
        self.groups[group_id] = {
            "id": group_id, "displayName": display_name, "description": "",
            "groupTypes": list(group_types), "mailEnabled": mail_enabled,
            "securityEnabled": not mail_enabled, "members": set(), "owners": set()}
        return group_id

    def add_app(self, display_name: str, roles: dict[str, str] | None = None, *,
                enterprise: bool = True) -> str:
        """A service principal; `roles` maps display names to app role ids (made up if "")."""
        app_id = str(uuid.uuid4())
        self.service_principals[app_id] = {
            "id": app_id, "appId": str(uuid.uuid4()), "displayName": display_name,
            "description": "", "tags": [ENTERPRISE_TAG] if enterprise else [],
            "appRoles": [{"id": role_id or str(uuid.uuid4()), "displayName": name,
                          "value": name.replace(" ", ""), "isEnabled": True,
                          "allowedMemberTypes": ["User"], "description": name}
                         for name, role_id in (roles or {}).items()]}
        return app_id

    def user_by_mail(self, mail: str) -> dict | None:
        return next((u for u in self.users.values() if u["mail"].lower() == mail.lower()), None)

    def roles_of(self, user_id: str) -> set[tuple[str, str]]:
        """(service principal id, app role id) assigned to the user."""
        return {(a["resourceId"], a["appRoleId"]) for a in self.assignments.values()
                if a["principalId"] == user_id}

    # -- answering --------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict[str, str], body: dict | None):
        """(status, JSON body or None) for one Graph call below /v1.0."""
        for pattern, verb, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if match and verb == method:
                return handler(*match.groups(), query=query, body=body or {})
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{path}'.")

    def _routes(self):
        group, sp, obj = r"/groups/([^/]+)", r"/servicePrincipals/([^/]+)", r"([^/]+)"
        return [
            ("/users", "GET", self._list_users),
            (f"/users/{obj}", "GET", self._get_user),
            (f"/users/{obj}", "PATCH", self._patch_user),
            (f"/users/{obj}", "DELETE", self._delete_user),
            ("/invitations", "POST", self._invite),
            ("/groups", "GET", self._list_groups),
            (rf"{group}/(members|owners)/\$ref", "POST", self._add_member),
            (rf"{group}/(members|owners)/{obj}/\$ref", "DELETE", self._remove_member),
            ("/servicePrincipals", "GET", self._list_apps),
            (f"{sp}/appRoleAssignedTo", "GET", self._list_assignments),
            (f"{sp}/appRoleAssignedTo", "POST", self._assign),
            (f"{sp}/appRoleAssignedTo/{obj}", "DELETE", self._unassign),
            ("/organization", "GET", self._organization),
        ]

    def _page(self, path: str, items: list[dict], query: dict[str, str]):
        start = int(query.get("$skiptoken") or 0)
        size = min(int(query.get("$top") or self.page_size), self.page_size)
        body = {"@odata.context": f"{self.origin}/v1.0/$metadata#{path.strip('/')}",
                "value": items[start:start + size]}
        if start + size < len(items):
            rest = {key: value for key, value in query.items() if key != "$skiptoken"}
            body["@odata.nextLink"] = f"{self.origin}/v1.0{path}?" + urlencode(
                rest | {"$skiptoken": start + size})
        return 200, body

    def _user(self, user_id: str) -> dict:
        if user_id not in self.users:
            raise not_found(user_id)
        return self.users[user_id]

    def _list_users(self, *, query, body):
        users = list(self.users.values())
        if "$filter" in query:
            clauses = _equalities(query["$filter"], {"mail", "userPrincipalName"})
            users = [u for u in users if any(str(u[name]).lower() == value.lower()
                                             for name, value in clauses)]
        return self._page("/users", users, query)

    def _get_user(self, user_id, *, query, body):
        return 200, self._user(user_id)

    def _patch_user(self, user_id, *, query, body):
        user = self._user(user_id)
        if "accountEnabled" in body:
            user["accountEnabled"] = bool(body["accountEnabled"])
        return 204, None

    def _delete_user(self, user_id, *, query, body):
        self._user(user_id)
        del self.users[user_id]
        for group in self.groups.values():
            group["members"].discard(user_id)
            group["owners"].discard(user_id)
        self.assignments = {key: a for key, a in self.assignments.items()
                            if a["principalId"] != user_id}
        return 204, None

    def _invite(self, *, query, body):
        mail = body.get("invitedUserEmailAddress")
        if not mail or not body.get("inviteRedirectUrl"):
            raise GraphError(400, "BadRequest", "The invitedUserEmailAddress and "
                             "inviteRedirectUrl properties are required.")
        user = self.user_by_mail(mail)
        if user is None:
            user_id = self.add_user(mail, user_type="Guest",
                                    display_name=body.get("invitedUserDisplayName") or "",
                                    upn=mail.replace("@", "_") + "#EXT#@contoso.onmicrosoft.com")
            user = self.users[user_id]
        invitation = {"id": str(uuid.uuid4()), "invitedUserEmailAddress": mail,
                      "invitedUserDisplayName": body.get("invitedUserDisplayName"),
                      "inviteRedirectUrl": body["inviteRedirectUrl"],
                      "sendInvitationMessage": body.get("sendInvitationMessage", False),
                      "inviteRedeemUrl": f"{self.origin}/redeem?tenant={self.tenant_id}",
                      "status": "PendingAcceptance", "invitedUser": {"id": user["id"]}}
        self.invitations.append(invitation)
        return 201, invitation

    def _group(self, group_id: str) -> dict:
        if group_id not in self.groups:
            raise not_found(group_id)
        return self.groups[group_id]

    def _list_groups(self, *, query, body):
        shown = [{k: v for k, v in g.items() if k not in ("members", "owners")}
                 for g in self.groups.values()]
        return self._page("/groups", shown, query)

    def _add_member(self, group_id, relation, *, query, body):
        group = self._group(group_id)
        reference = str(body.get("@odata.id") or "")
        user_id = reference.rsplit("/", 1)[-1]
        if not reference.startswith(f"{self.origin}/v1.0/directoryObjects/"):
            raise GraphError(400, "BadRequest", f"Invalid object identifier '{reference}'.")
        self._user(user_id)
        if user_id in group[relation]:
            raise GraphError(400, "Request_BadRequest", "One or more added object references "
                             f"already exist for the following modified properties: "
                             f"'{relation}'.")
        group[relation].add(user_id)
        return 204, None

    def _remove_member(self, group_id, relation, user_id, *, query, body):
        group = self._group(group_id)
        if user_id not in group[relation]:
            raise not_found(user_id)
        group[relation].discard(user_id)
        return 204, None

    def _app(self, app_id: str) -> dict:
        if app_id not in self.service_principals:
            raise not_found(app_id)
        return self.service_principals[app_id]

    def _list_apps(self, *, query, body):
        apps = list(self.service_principals.values())
        if "$filter" in query:
            if query["$filter"] != ENTERPRISE_APPS:
                raise GraphError(400, "BadRequest", f"Invalid filter clause: {query['$filter']}")
            apps = [app for app in apps if ENTERPRISE_TAG in app["tags"]]
        return self._page("/servicePrincipals", apps, query)

    def _list_assignments(self, app_id, *, query, body):
        self._app(app_id)
        found = [a for a in self.assignments.values() if a["resourceId"] == app_id]
        if "$filter" in query:
            [(_, principal)] = _equalities(query["$filter"], {"principalId"})
            found = [a for a in found if a["principalId"] == principal]
        return self._page(f"/servicePrincipals/{app_id}/appRoleAssignedTo", found, query)

    def _assign(self, app_id, *, query, body):
        app = self._app(app_id)
        principal = self._user(str(body.get("principalId")))
        role_id = body.get("appRoleId")
        known = {role["id"] for role in app["appRoles"]} or {DEFAULT_ACCESS_ROLE}
        if body.get("resourceId") != app_id or role_id not in known:
            raise GraphError(400, "Request_BadRequest", "Permission being assigned was not "
                             "found on application")
        if (app_id, role_id) in self.roles_of(principal["id"]):
            raise GraphError(400, "Request_BadRequest", "Permission being assigned already "
                             "exists on the object")
        assignment = {"id": f"assignment-{next(_counter)}", "principalId": principal["id"],
                      "principalType": "User", "principalDisplayName": principal["displayName"],
                      "resourceId": app_id, "resourceDisplayName": app["displayName"],
                      "appRoleId": role_id}
        self.assignments[assignment["id"]] = assignment
        return 201, assignment

    def _unassign(self, app_id, assignment_id, *, query, body):
        self._app(app_id)
        if self.assignments.get(assignment_id, {}).get("resourceId") != app_id:
            raise not_found(assignment_id)
        del self.assignments[assignment_id]
        return 204, None

    def _organization(self, *, query, body):
        return self._page("/organization", [{
            "id": self.tenant_id, "displayName": self.tenant_name,
            "verifiedDomains": [{"name": "contoso.onmicrosoft.com", "isDefault": True}]}],
            query)


_counter = itertools.count(1)
