"""People and groups as SCIM resources (scim2-models), and SCIM resources as the values the
people and group services take.

The attributes the portal uses are its columns (userName, emails, name, title, userType,
active, externalId, the enterprise extension); the rest of what a client sent (phone numbers,
addresses, ...) is kept as it came in `scim_extra` and given back with the columns over it.
"""

import hashlib
import json
from typing import Any

from scim2_models import EnterpriseUser, InvalidValueException, Meta
from scim2_models import Group as ScimGroup
from scim2_models import User as ScimUser

from governance.models import Group, User

UserResource = ScimUser[EnterpriseUser]
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_SCHEMAS = ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]
GROUP_SCHEMAS = ["urn:ietf:params:scim:schemas:core:2.0:Group"]
# SCIM's enterprise attributes and the person's fields they are.
ENTERPRISE_FIELDS = {"employeeNumber": "employee_id", "costCenter": "cost_center",
                     "organization": "company_name", "division": "division",
                     "department": "department"}
# Top-level attributes the columns answer for: never kept in scim_extra.
USER_COLUMNS = {"schemas", "id", "meta", "externalId", "userName", "displayName", "title",
                "userType", "active"}
NO_ADDRESS = "no-address.invalid"
MEMBER_DISPLAY = "memberDisplay"  # kept in a group's scim_extra, never shown as such
GROUP_COLUMNS = {"schemas", "id", "meta", "externalId", "displayName", "members"}


def _json(resource) -> dict[str, Any]:
    return resource.model_dump(mode="json", by_alias=True, exclude_none=True)


def _version(body: dict) -> str:
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
    return f'W/"{digest}"'


def _meta(resource_type: str, created, modified, body: dict) -> dict:
    return Meta(resource_type=resource_type, created=created, last_modified=modified or created,
                version=_version(body)).model_dump(mode="json", by_alias=True,
                                                   exclude_none=True)


def _set(body: dict, key: str, value) -> None:
    if value not in (None, ""):
        body[key] = value
    else:
        body.pop(key, None)


def _emails(extra: list | None, email: str, username: str) -> list | None:
    """What was sent, with the primary (or first) address being the person's."""
    emails = [dict(item) for item in (extra or [])]
    if not emails:
        if email == username.lower() or email.endswith(f"@{NO_ADDRESS}"):
            return None
        return [{"value": email, "primary": True}]
    main = next((item for item in emails if item.get("primary")), emails[0])
    main["value"] = email
    return emails


def user_resource(person: User) -> UserResource:
    body: dict[str, Any] = json.loads(json.dumps(person.scim_extra or {}))
    body["schemas"] = USER_SCHEMAS
    body["id"] = str(person.pk)
    _set(body, "externalId", person.external_id)
    body["userName"] = person.username
    _set(body, "displayName", person.display_name)
    _set(body, "title", person.job_title)
    _set(body, "userType", person.employee_type)
    body["active"] = person.is_active
    name = {**body.get("name", {})}
    _set(name, "givenName", person.first_name)
    _set(name, "familyName", person.last_name)
    _set(body, "name", name or None)
    _set(body, "emails", _emails(body.get("emails"), person.email, person.username))
    enterprise = {**body.get(ENTERPRISE, {})}
    for attribute, field in ENTERPRISE_FIELDS.items():
        _set(enterprise, attribute, getattr(person, field))
    # The manager's displayName is not returned: it is the client's to know (RFC 7643 makes
    # it read-only, and clients compare what they sent with what they read back).
    manager = {"value": str(person.manager_id), "$ref": f"Users/{person.manager_id}"} \
        if person.manager_id else None
    _set(enterprise, "manager", manager)
    enterprise.pop("schemas", None)
    _set(body, ENTERPRISE, {"schemas": [ENTERPRISE], **enterprise} if enterprise else None)
    body.pop("meta", None)
    body["meta"] = _meta("User", person.date_joined, person.modified_at, body)
    return UserResource.model_validate(body)


def person_values(resource: UserResource) -> dict[str, Any]:
    """The people services' values for the whole of `resource` (a PUT, a POST, or the result
    of a PATCH): a missing attribute is an empty value."""
    body = _json(resource)
    emails = body.get("emails") or []
    main = next((item for item in emails if item.get("primary")), emails[0] if emails else {})
    email = main.get("value") or (resource.user_name if "@" in (resource.user_name or "")
                                  else None) or _no_address(resource.user_name or "")
    enterprise = body.get(ENTERPRISE, {})
    manager = (enterprise.get("manager") or {}).get("value")
    name = body.get("name", {})
    values: dict[str, Any] = {
        "username": resource.user_name, "email": email,
        "external_id": resource.external_id or "",
        "display_name": resource.display_name or "",
        "first_name": name.get("givenName", ""), "last_name": name.get("familyName", ""),
        "job_title": resource.title or "", "employee_type": resource.user_type or "",
        "manager_id": _person_id(manager),
        **{field: enterprise.get(attribute, "") for attribute, field in
           ENTERPRISE_FIELDS.items()},
    }
    if resource.active is not None:
        values["active"] = resource.active
    extra = {key: value for key, value in body.items() if key not in USER_COLUMNS}
    for key in ("name", ENTERPRISE):
        kept = {k: v for k, v in extra.get(key, {}).items()
                if k not in {"givenName", "familyName", "manager", *ENTERPRISE_FIELDS}}
        _set(extra, key, kept or None)
    values["scim_extra"] = extra or None
    return values


def _no_address(user_name: str) -> str:
    """The address of a person provisioned with none (RFC 2606's reserved .invalid: no mail
    is ever delivered there). They sign in by single sign-on, matched by externalId."""
    digest = hashlib.sha256(user_name.encode()).hexdigest()[:20]
    return f"user-{digest}@{NO_ADDRESS}"


def _person_id(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidValueException(detail=f"There is no person {value}: a manager is given "
                                           "by the id of a person of this service.") from None


def group_resource(group: Group, member_rows) -> ScimGroup:
    body: dict[str, Any] = json.loads(json.dumps(group.scim_extra or {}))
    body["schemas"] = GROUP_SCHEMAS
    body["id"] = str(group.pk)
    body["displayName"] = group.display_name
    _set(body, "externalId", group.external_id)
    # A member's display is what the client sent, else the person's name.
    shown = body.pop(MEMBER_DISPLAY, {})
    members = [{"value": str(user_id), "$ref": f"Users/{user_id}", "type": "User",
                "display": shown.get(str(user_id), name or email)}
               for user_id, name, email in member_rows]
    _set(body, "members", members or None)
    body.pop("meta", None)
    body["meta"] = _meta("Group", group.created_at, group.modified_at, body)
    return ScimGroup.model_validate(body)


def group_values(resource: ScimGroup) -> dict[str, Any]:
    body = _json(resource)
    member_ids, shown = [], {}
    for member in body.get("members") or []:
        if member.get("type") not in (None, "User"):
            raise InvalidValueException(detail="Groups hold people only, not other groups.")
        member_ids.append(_person_id(member.get("value")))
        if member.get("display"):
            shown[str(member_ids[-1])] = member["display"]
    extra = {k: v for k, v in body.items() if k not in GROUP_COLUMNS}
    _set(extra, MEMBER_DISPLAY, shown or None)
    return {"display_name": resource.display_name or "",
            "external_id": resource.external_id or "", "member_ids": member_ids,
            "scim_extra": extra or None}
