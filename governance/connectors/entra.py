"""Microsoft Entra ID through Microsoft Graph, signed in as an application (client credentials).

People are users of the tenant: found by mail, then by userPrincipalName, and invited as
guests when the tenant has no such user (no invitation email: the portal tells them). Group
resources ("AadGroup") take the roles Member and Owner; application resources
("AadApplication") are service principals whose roles are app roles. Adding what is already
there and removing what is already gone both succeed, so every change can be repeated.
"""

import json
from urllib.parse import quote, urlsplit

import msal
import requests
from django.conf import settings

from governance.choices import DeliveryAction, OriginSystem
from governance.connectors.base import (
    ChangeResult,
    Connector,
    ConnectorError,
    DiscoveredResource,
    DiscoveredRole,
    Person,
    RoleChange,
)
from governance.connectors.http import error_text, json_of, new_session, send
from governance.security import secrets

GROUP_ROLES = ("Member", "Owner")
# The role an application has when it defines none ("Default Access" in the Entra admin center).
DEFAULT_ACCESS_ROLE = "00000000-0000-0000-0000-000000000000"
# Service principals that the Entra admin center lists as enterprise applications.
ENTERPRISE_APPS = "tags/any(t:t eq 'WindowsAzureActiveDirectoryIntegratedApp')"
# Token errors (RFC 6749 §4.1.2.1) that say "later", unlike a wrong secret or client id.
TRANSIENT = ("temporarily_unavailable", "server_error")
MAX_PAGES = 1000  # a listing stops there, whatever a confused server links to next
PAGE_SIZE = 999


def odata_string(value: str) -> str:
    """A string literal in an OData $filter: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def _segment(value: str, what: str) -> str:
    """An id as one URL path segment; an empty or odd one is refused before any request."""
    if not value or value.strip() != value or len(value) > 200:
        raise ConnectorError(f"“{value}” is not a Microsoft Entra {what} id.", retryable=False)
    return quote(value, safe="")


class EntraConnector(Connector):
    key = "entra"

    def __init__(self, system):
        super().__init__(system)
        self.base_url = system.base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.scope = f"{parts.scheme}://{parts.netloc}/.default"
        self._session = None
        self._app = None
        self._token_error: ConnectorError | None = None
        self._ids: dict[int, str] = {}  # user id → object id, for one apply() batch

    # -- HTTP and the token -----------------------------------------------------------------

    def _http(self) -> requests.Session:
        if self._session is None:
            self._session = new_session(verify=settings.CONNECTOR_CA_BUNDLE)
        return self._session

    def _close(self) -> None:
        if self._session is not None:
            self._session.close()
        self._session = self._app = self._token_error = None

    def _token(self) -> str:
        """An access token for Graph; msal keeps it (and renews it) within this instance.

        A refusal is remembered, so that a batch does not ask the authority once per change.
        """
        if self._token_error is not None:
            raise self._token_error
        try:
            return self._acquire_token()
        except ConnectorError as exc:
            self._token_error = exc
            raise

    def _acquire_token(self) -> str:
        authority = self.system.authority
        try:
            if self._app is None:
                secret = self.system.secret()
                if not secret:
                    raise ConnectorError(f"{self.system} has no client secret configured.",
                                         retryable=False)
                self._app = msal.ConfidentialClientApplication(
                    self.system.client_id, client_credential=secret, authority=authority,
                    http_client=self._http(), instance_discovery=False)
            result = self._app.acquire_token_for_client(scopes=[self.scope])
        except secrets.SecretUnavailable as exc:
            raise ConnectorError(str(exc), retryable=False) from None
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(f"The TLS certificate of {authority} was refused: {exc}",
                                 retryable=False) from None
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            # Unreachable, or a 5xx that msal raised for: worth trying again later.
            raise ConnectorError(f"Could not get a token from {authority}: {exc}") from None
        except ValueError as exc:
            # msal's word for an authority that is not one, or an answer that is not JSON.
            raise ConnectorError(f"Could not get a token from {authority}: {exc}",
                                 retryable=False) from None
        if not isinstance(result, dict) or not result.get("access_token"):
            result = result if isinstance(result, dict) else {}
            reason = result.get("error_description") or result.get("error") or \
                "no token and no reason"
            raise ConnectorError(f"{authority} refused a token for {self.system.client_id}: "
                                 f"{reason}", retryable=result.get("error") in TRANSIENT)
        return result["access_token"]

    def _send(self, method: str, path_or_url: str, *, body: dict | None = None, accept=(),
              **kwargs) -> requests.Response:
        url = path_or_url if "://" in path_or_url else f"{self.base_url}{path_or_url}"
        headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
        if body is not None:
            kwargs["data"] = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return send(self._http(), method, url, accept=accept, headers=headers, **kwargs)

    def _pages(self, path: str, **params) -> list[dict]:
        """Every item of a Graph collection, following @odata.nextLink on the same host."""
        items, url, origin = [], path, urlsplit(self.base_url).netloc
        for _ in range(MAX_PAGES):
            body = json_of(self._send("GET", url, params=params))
            page = body.get("value")
            if not isinstance(page, list) or not all(
                    isinstance(item, dict) and isinstance(item.get("id"), str) for item in page):
                raise ConnectorError(f"GET {url} answered something that is not a Graph "
                                     f"collection: {str(body)[:200]}", retryable=False)
            items += page
            url, params = body.get("@odata.nextLink"), {}
            if not url:
                break
            if not isinstance(url, str) or urlsplit(url).netloc != origin:
                raise ConnectorError(f"Graph linked to a next page elsewhere: {str(url)[:200]}",
                                     retryable=False)
        return items

    # -- people -----------------------------------------------------------------------------

    def _find(self, person: Person) -> str:
        """The object id of the tenant's user with the person's mail (else userPrincipalName),
        or "" when there is none."""
        if not person.email:
            return ""
        email = odata_string(person.email)
        users = self._pages("/users", **{
            "$filter": f"mail eq {email} or userPrincipalName eq {email}",
            "$select": "id,mail,userPrincipalName"})
        by_mail = [user for user in users
                   if str(user.get("mail") or "").lower() == person.email.lower()]
        return (by_mail or users or [{"id": ""}])[0]["id"]

    def _exists(self, object_id: str) -> bool:
        response = self._send("GET", f"/users/{_segment(object_id, 'user')}", accept=(404,),
                              params={"$select": "id"})
        return response.status_code != 404 and json_of(response).get("id") == object_id

    def _invite(self, person: Person) -> str:
        if not person.email:
            raise ConnectorError(f"User {person.user_id} has no email to invite to "
                                 f"{self.system} with.", retryable=False)
        response = self._send("POST", "/invitations", body={
            "invitedUserEmailAddress": person.email,
            "invitedUserDisplayName": person.display_name or person.email,
            "inviteRedirectUrl": settings.SITE_URL, "sendInvitationMessage": False})
        invited = json_of(response).get("invitedUser")
        if not isinstance(invited, dict) or not isinstance(invited.get("id"), str) or \
                not invited["id"]:
            raise ConnectorError(f"POST {response.url} answered without the invited user's "
                                 f"id: {response.text[:200]}", retryable=False)
        return invited["id"]

    def _resolve(self, person: Person, *, create: bool) -> str:
        """The person's object id: cached, known and still there, found, or (with `create`)
        invited; "" when the tenant has no such user and none is to be made."""
        if person.user_id in self._ids:
            return self._ids[person.user_id]
        object_id = person.external_id if person.external_id and self._exists(
            person.external_id) else self._find(person)
        if not object_id and create:
            object_id = self._invite(person)
        if object_id:
            self._ids[person.user_id] = object_id
        return object_id

    def ensure_user(self, person: Person) -> str:
        return self._resolve(person, create=True)

    def _set_enabled(self, person: Person, enabled: bool) -> None:
        object_id = self._resolve(person, create=False)
        if not object_id:
            return  # no such user: nobody to block, and the next delivery invites them
        response = self._send("PATCH", f"/users/{_segment(object_id, 'user')}",
                              body={"accountEnabled": enabled}, accept=(404,))
        if response.status_code == 404 and enabled:
            raise ConnectorError(f"{person.email} no longer exists in {self.system}.",
                                 retryable=False)

    def block_user(self, person: Person) -> None:
        try:
            self._set_enabled(person, False)
        finally:
            self._close()

    def unblock_user(self, person: Person) -> None:
        try:
            self._set_enabled(person, True)
        finally:
            self._close()

    def delete_user(self, person: Person) -> None:
        """Delete the person's guest account; a member of the tenant is never deleted."""
        try:
            object_id = self._resolve(person, create=False)
            if not object_id:
                return
            path = f"/users/{_segment(object_id, 'user')}"
            response = self._send("GET", path, accept=(404,), params={"$select": "id,userType"})
            if response.status_code == 404:
                return
            user_type = json_of(response).get("userType")
            if user_type != "Guest":
                raise ConnectorError(f"{person.email} is a {user_type or 'user'} of "
                                     f"{self.system}, not a guest the portal invited: the "
                                     "portal deletes only guests.", retryable=False)
            self._send("DELETE", path, accept=(404,))
        finally:
            self._close()

    # -- group memberships and app roles ----------------------------------------------------

    def _group_change(self, change: RoleChange, user_id: str) -> None:
        role = change.role_origin_id.split("_", 1)[0]
        if role not in GROUP_ROLES:
            raise ConnectorError(f"Groups have no role “{change.role_origin_id}”.",
                                 retryable=False)
        relation = f"/groups/{_segment(change.resource_origin_id, 'group')}/{role.lower()}s"
        if change.action == DeliveryAction.GRANT:
            response = self._send("POST", f"{relation}/$ref", accept=(400,), body={
                "@odata.id": f"{self.base_url}/directoryObjects/{user_id}"})
            if response.status_code == 400 and "already exist" not in error_text(response):
                raise ConnectorError(f"400 from POST {response.url}: {error_text(response)}",
                                     retryable=False)
        else:
            self._send("DELETE", f"{relation}/{_segment(user_id, 'user')}/$ref", accept=(404,))

    def _app_role_change(self, change: RoleChange, user_id: str) -> None:
        resource_id = change.resource_origin_id
        assigned_to = f"/servicePrincipals/{_segment(resource_id, 'application')}" \
                      "/appRoleAssignedTo"
        app_role_id = change.role_origin_id or DEFAULT_ACCESS_ROLE
        if change.action == DeliveryAction.GRANT:
            response = self._send("POST", assigned_to, accept=(400,), body={
                "principalId": user_id, "resourceId": resource_id, "appRoleId": app_role_id})
            if response.status_code == 400 and "already exists" not in error_text(response):
                raise ConnectorError(f"400 from POST {response.url}: {error_text(response)}",
                                     retryable=False)
            if response.status_code != 400:
                json_of(response)  # the new assignment: garbage is no success
            return
        assignments = self._pages(assigned_to, **{
            "$filter": f"principalId eq {_segment(user_id, 'user')}"})
        for assignment in assignments:
            if str(assignment.get("appRoleId")) == app_role_id:
                self._send("DELETE", f"{assigned_to}/{_segment(assignment['id'], 'assignment')}",
                           accept=(404,))

    def _change(self, change: RoleChange) -> str:
        """Carry out one change; returns the person's object id ("" for a revocation of
        someone the tenant does not know, which has nothing to remove)."""
        if change.origin_system == OriginSystem.GROUP:
            work = self._group_change
        elif change.origin_system == OriginSystem.APPLICATION:
            work = self._app_role_change
        else:
            raise ConnectorError(f"Microsoft Entra has no resources of the kind "
                                 f"“{change.origin_system}”.", retryable=False)
        user_id = self._resolve(change.person, create=change.action == DeliveryAction.GRANT)
        if user_id:
            work(change, user_id)
        return user_id

    def apply(self, changes: list[RoleChange]) -> list[ChangeResult]:
        self._ids = {}
        results = []
        throttled: ConnectorError | None = None
        try:
            for change in changes:
                if throttled is not None:
                    # Graph throttles per application and tenant: the rest waits as long.
                    results.append(ChangeResult.failed(change.delivery_id, throttled))
                    continue
                try:
                    results.append(ChangeResult(change.delivery_id,
                                                external_user_id=self._change(change)))
                except ConnectorError as exc:
                    results.append(ChangeResult.failed(change.delivery_id, exc))
                    if exc.retry_after is not None:
                        throttled = exc
        finally:
            self._close()
        return results

    # -- the tenant -------------------------------------------------------------------------

    def check(self) -> str:
        try:
            organizations = self._pages("/organization", **{"$select": "id,displayName"})
        finally:
            self._close()
        if not organizations:
            raise ConnectorError(f"{self.base_url}/organization answered no tenant.",
                                 retryable=False)
        tenant = organizations[0]
        return f"Signed in to tenant {tenant.get('displayName') or tenant['id']}."

    def discover(self) -> list[DiscoveredResource]:
        try:
            groups = self._pages("/groups", **{
                "$select": "id,displayName,description,groupTypes,mailEnabled,securityEnabled",
                "$top": str(PAGE_SIZE)})
            apps = self._pages("/servicePrincipals", **{
                "$select": "id,displayName,description,appRoles", "$filter": ENTERPRISE_APPS,
                "$top": str(PAGE_SIZE)})
        finally:
            self._close()
        return [_group_resource(group) for group in groups if _manageable(group)] + \
            [_app_resource(app) for app in apps]


def _manageable(group: dict) -> bool:
    """Whether Graph lets us change the group's members: not dynamic, not a distribution
    list or mail-enabled security group (those are managed in Exchange)."""
    types = group.get("groupTypes") or []
    if "DynamicMembership" in types:
        return False
    return "Unified" in types or not group.get("mailEnabled")


def _group_resource(group: dict) -> DiscoveredResource:
    return DiscoveredResource(
        display_name=str(group.get("displayName") or group["id"])[:200],
        origin_system=OriginSystem.GROUP, origin_id=group["id"],
        description=str(group.get("description") or ""),
        roles=[DiscoveredRole(role, f"{role}_{group['id']}") for role in GROUP_ROLES])


def _app_resource(app: dict) -> DiscoveredResource:
    roles = [DiscoveredRole(str(role.get("displayName") or role["id"])[:100], role["id"])
             for role in app.get("appRoles") or []
             if isinstance(role, dict) and isinstance(role.get("id"), str)
             and role.get("isEnabled", True)
             and "User" in (role.get("allowedMemberTypes") or ["User"])]
    return DiscoveredResource(
        display_name=str(app.get("displayName") or app["id"])[:200],
        origin_system=OriginSystem.APPLICATION, origin_id=app["id"],
        description=str(app.get("description") or ""),
        roles=roles or [DiscoveredRole("Default Access", DEFAULT_ACCESS_ROLE)])
