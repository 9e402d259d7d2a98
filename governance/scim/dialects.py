"""What identity providers send that RFC 7644 does not say, rewritten into what it does, so
that scim2-models reads it. Each rewrite names the client it is for.

scim2-models itself takes the rest of their dialects: capitalised ops ("Replace"), booleans as
strings ("False"), replace without a path, emails[type eq "work"].value.
"""

import json

from governance.scim.resources import ENTERPRISE

MANAGER_PATHS = {f"{ENTERPRISE}:manager".lower(), "manager"}


def _operation(operation: dict) -> list[dict]:
    if not isinstance(operation, dict):
        return [operation]
    op = str(operation.get("op", "")).lower()
    path = str(operation.get("path") or "")
    value = operation.get("value")
    # Entra removes group members with the members in `value` rather than in a path filter.
    if op == "remove" and path.lower() == "members" and isinstance(value, list) and value:
        return [{"op": "remove", "path": f'members[value eq "{member.get("value")}"]'}
                for member in value if isinstance(member, dict)]
    # Entra sends the manager as its bare id, not as the complex {"value": id}.
    if op in ("add", "replace") and path.lower() in MANAGER_PATHS:
        return [{**operation, "value": _manager(value)}]
    return [operation]


def normalised_patch(body: bytes) -> bytes:
    """`body` with the rewrites above; a body that is no JSON object is left for the
    protocol to refuse."""
    try:
        patch = json.loads(body)
    except ValueError:
        return body
    operations = patch.get("Operations") if isinstance(patch, dict) else None
    if not isinstance(operations, list):
        return body
    patch["Operations"] = [rewritten for operation in operations
                           for rewritten in _operation(operation)]
    return json.dumps(patch).encode()


def _manager(value):
    """The enterprise manager as RFC 7643 has it ({"value", "$ref"}), from a bare id (Entra)
    or a value without its $ref (Okta, Entra)."""
    if isinstance(value, str | int) and str(value):
        value = {"value": str(value)}
    if isinstance(value, dict) and value.get("value") and not value.get("$ref"):
        value = {**value, "$ref": f"Users/{value['value']}"}
    return value


def normalised_resource(body: bytes) -> bytes:
    """A POST or PUT body with its manager as RFC 7643 has it."""
    try:
        resource = json.loads(body)
    except ValueError:
        return body
    enterprise = resource.get(ENTERPRISE) if isinstance(resource, dict) else None
    if not isinstance(enterprise, dict) or "manager" not in enterprise:
        return body
    enterprise["manager"] = _manager(enterprise["manager"])
    return json.dumps(resource).encode()
