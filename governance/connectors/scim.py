"""SCIM 2.0 (RFC 7643 and 7644): people are Users, resources are Groups, the role is Member.

A person is found by the externalId we give them (their portal user id), then by userName
(their email), then by email, and created when no account matches; an apply() batch looks
each person up once. A membership is one PATCH of the group; a group that is gone has no
member left to remove, and a person that is gone has nothing left to block or delete (an
unblocked one is created, active, by their next delivery). When the target cannot be reached
or throttles, the rest of the batch is not tried: it waits as long.
"""

import functools
import json
from urllib.parse import quote

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

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MEMBER = "Member"
PAGE_SIZE = 100
MAX_PAGES = 1000  # discover() stops there, whatever a confused server says about its total
SCIM_JSON = "application/scim+json"


def quoted(value: str) -> str:
    """A string value in a SCIM filter (RFC 7644 §3.4.2.2: JSON string rules)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _closing(method):
    """Close the connector's HTTP session when `method` returns or raises."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        finally:
            self._close()

    return wrapper


def _target_out(exc: ConnectorError) -> bool:
    """The target cannot be reached, or asked us to wait: no use trying the rest now."""
    return exc.retryable and (exc.retry_after is not None or isinstance(
        exc.__context__, requests.ConnectionError | requests.Timeout))


def _path(kind: str, resource_id: str) -> str:
    return f"/{kind}/{quote(resource_id, safe='')}"


def external_id(person: Person) -> str:
    """The externalId the portal gives its people: their user id, the client's own id."""
    return str(person.user_id)


class ScimConnector(Connector):
    key = "scim"

    def __init__(self, system):
        super().__init__(system)
        self.base_url = system.base_url.rstrip("/")
        self._session = None
        self._ids: dict[int, str] = {}  # user id → SCIM id, for one apply() batch

    # -- HTTP -------------------------------------------------------------------------------

    def _http(self):
        if self._session is None:
            try:
                token = self.system.secret()
            except secrets.SecretUnavailable as exc:
                raise ConnectorError(str(exc), retryable=False) from None
            session = new_session(verify=settings.CONNECTOR_CA_BUNDLE)
            session.headers["Accept"] = f"{SCIM_JSON}, application/json"
            if token:
                session.headers["Authorization"] = f"Bearer {token}"
            self._session = session
        return self._session

    def _close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def _send(self, method: str, path: str, *, body: dict | None = None, accept=(), **kwargs):
        if body is not None:
            kwargs["data"] = json.dumps(body).encode()
            kwargs["headers"] = {"Content-Type": SCIM_JSON}
        return send(self._http(), method, f"{self.base_url}{path}", accept=accept, **kwargs)

    def _list(self, path: str, *, where: str = "", start: int = 1, count: int | None = None,
              **params) -> tuple[list[dict], int]:
        """One page (of PAGE_SIZE, or `count`) of a ListResponse: its resources and
        totalResults."""
        if where:
            params["filter"] = where
        response = self._send("GET", path, params={
            "startIndex": start, "count": PAGE_SIZE if count is None else count, **params})
        body = json_of(response)
        resources = body.get("Resources", [])
        total = body.get("totalResults")
        if not isinstance(resources, list) or not isinstance(total, int) or not all(
                isinstance(item, dict) and isinstance(item.get("id"), str) for item in resources):
            raise ConnectorError(f"GET {response.url} answered something that is not a SCIM "
                                 f"list of resources: {str(body)[:200]}", retryable=False)
        return resources, total

    def _patch(self, path: str, operations: list[dict]):
        """PATCH; returns the response, or None when the resource does not exist (404)."""
        response = self._send("PATCH", path, body={"schemas": [PATCH_SCHEMA],
                                                   "Operations": operations}, accept=(404,))
        if response.status_code == 404:
            return None
        if response.status_code != 204 and response.content:
            json_of(response)  # a 200 must carry the resource: garbage is no success
        return response

    # -- people -----------------------------------------------------------------------------

    def _find(self, person: Person) -> str:
        """The SCIM id of the person's account, or "" when there is none."""
        filters = [f"externalId eq {quoted(external_id(person))}"]
        if person.email:
            filters += [f"userName eq {quoted(person.email)}",
                        f"emails.value eq {quoted(person.email)}"]
        for condition in filters:
            found, _ = self._list("/Users", where=condition, count=2, attributes="id")
            if found:
                return found[0]["id"]
        return ""

    def _exists(self, user_id: str) -> bool:
        response = self._send("GET", _path("Users", user_id), accept=(404,),
                              params={"attributes": "id"})
        if response.status_code == 404:
            return False
        return json_of(response).get("id") == user_id

    def _create(self, person: Person) -> str:
        body = {"schemas": [USER_SCHEMA], "userName": person.email,
                "externalId": external_id(person), "active": True,
                "emails": [{"value": person.email, "type": "work", "primary": True}]}
        if person.display_name:
            body["displayName"] = person.display_name
        response = self._send("POST", "/Users", body=body, accept=(409,))
        if response.status_code == 409:
            # Created meanwhile (by another worker), or taken by an account we did not find.
            found = self._find(person)
            if found:
                return found
            raise ConnectorError(f"{self.system} refused to create an account for "
                                 f"{person.email}: {response.status_code} "
                                 f"{error_text(response)}", retryable=False)
        created = json_of(response)
        if not isinstance(created.get("id"), str) or not created["id"]:
            raise ConnectorError(f"POST {response.url} answered without the new account's id: "
                                 f"{str(created)[:200]}", retryable=False)
        return created["id"]

    def _resolve(self, person: Person, *, create: bool) -> str:
        """The person's SCIM id: cached, known and still there, found, or (with `create`)
        created; "" when they have no account and none is to be made."""
        if person.user_id in self._ids:
            return self._ids[person.user_id]
        user_id = person.external_id if person.external_id and self._exists(
            person.external_id) else self._find(person)
        if not user_id and create:
            if not person.email:
                raise ConnectorError(f"User {person.user_id} has no email to sign in to "
                                     f"{self.system} with.", retryable=False)
            user_id = self._create(person)
        if user_id:
            self._ids[person.user_id] = user_id
        return user_id

    @_closing
    def ensure_user(self, person: Person) -> str:
        return self._resolve(person, create=True)

    def _set_active(self, person: Person, active: bool) -> None:
        operations = [{"op": "replace", "path": "active", "value": active}]
        if person.external_id and self._patch(_path("Users", person.external_id), operations):
            return
        # The id we learned is gone: the account was re-created, or deleted there.
        user_id = self._find(person)
        if user_id:
            self._patch(_path("Users", user_id), operations)
        # No account at all: nobody to block, and the next delivery creates it active.

    @_closing
    def block_user(self, person: Person) -> None:
        self._set_active(person, False)

    @_closing
    def unblock_user(self, person: Person) -> None:
        self._set_active(person, True)

    @_closing
    def delete_user(self, person: Person) -> None:
        if person.external_id:
            response = self._send("DELETE", _path("Users", person.external_id), accept=(404,))
            if response.status_code != 404:
                return
        # Gone already, unless it was re-created under another id.
        user_id = self._find(person)
        if user_id:
            self._send("DELETE", _path("Users", user_id), accept=(404,))

    # -- memberships ------------------------------------------------------------------------

    def _group_path(self, change: RoleChange) -> str:
        if change.role_origin_id != MEMBER:
            raise ConnectorError(f"SCIM groups have no role “{change.role_origin_id}”; their "
                                 f"only role is {MEMBER}.", retryable=False)
        if not change.resource_origin_id:
            raise ConnectorError("This resource names no SCIM group.", retryable=False)
        return _path("Groups", change.resource_origin_id)

    def _grant(self, change: RoleChange) -> str:
        path = self._group_path(change)
        user_id = self._resolve(change.person, create=True)
        if self._patch(path, [{"op": "add", "path": "members",
                               "value": [{"value": user_id}]}]) is None:
            raise ConnectorError(f"The group “{change.resource_origin_id}” no longer exists "
                                 f"in {self.system}.", retryable=False)
        return user_id

    def _revoke(self, change: RoleChange) -> str:
        path = self._group_path(change)
        user_id = self._resolve(change.person, create=False)
        if user_id:
            # 404: the group is gone, and with it the membership.
            self._patch(path, [{"op": "remove",
                                "path": f"members[value eq {quoted(user_id)}]"}])
        return user_id

    @_closing
    def apply(self, changes: list[RoleChange]) -> list[ChangeResult]:
        self._ids = {}
        results, out = [], None
        for change in changes:
            if out is not None:  # not tried: the rest wait for the target as long
                results.append(ChangeResult.failed(change.delivery_id, out))
                continue
            work = self._grant if change.action == DeliveryAction.GRANT else self._revoke
            try:
                results.append(ChangeResult(change.delivery_id, external_user_id=work(change)))
            except ConnectorError as exc:
                results.append(ChangeResult.failed(change.delivery_id, exc))
                out = exc if _target_out(exc) else None
        return results

    # -- the system -------------------------------------------------------------------------

    @_closing
    def check(self) -> str:
        config = json_of(self._send("GET", "/ServiceProviderConfig"))
        _, total = self._list("/Users", count=1, attributes="id")
        patch = config.get("patch")
        if isinstance(patch, dict) and patch.get("supported") is False:
            raise ConnectorError(f"{self.base_url} says it does not support PATCH, which "
                                 "the portal needs to change group memberships.",
                                 retryable=False)
        return f"The SCIM service answered and holds {total} " \
               f"user{'' if total == 1 else 's'}."

    @_closing
    def discover(self) -> list[DiscoveredResource]:
        found, start = {}, 1
        for _ in range(MAX_PAGES):
            groups, total = self._list("/Groups", start=start, excludedAttributes="members")
            for group in groups:
                found[group["id"]] = DiscoveredResource(
                    display_name=str(group.get("displayName") or group["id"])[:200],
                    origin_system=OriginSystem.SCIM_GROUP, origin_id=group["id"],
                    roles=[DiscoveredRole(MEMBER, MEMBER)])
            start += len(groups)
            if not groups or start > total:
                break
        return list(found.values())

    @_closing
    def create_group(self, display_name: str) -> str:
        """Create a group (the demo's, when the SCIM service has none); returns its id."""
        response = self._send("POST", "/Groups", accept=(409,), body={
            "schemas": [GROUP_SCHEMA], "displayName": display_name})
        if response.status_code == 409:
            existing, _ = self._list("/Groups", count=1, attributes="id",
                                     where=f"displayName eq {quoted(display_name)}")
            if existing:
                return existing[0]["id"]
            raise ConnectorError(f"{self.system} refused the group “{display_name}”: "
                                 f"{error_text(response)}", retryable=False)
        created = json_of(response)
        if not isinstance(created.get("id"), str) or not created["id"]:
            raise ConnectorError(f"POST {response.url} answered without the new group's id: "
                                 f"{str(created)[:200]}", retryable=False)
        return created["id"]


