"""SCIM filters (RFC 7644 §3.4.2.2), as parsed by scim2-models, turned into one Django
condition, so that a search is one query whatever the number of people.

An attribute of the resource type that the portal does not keep as a column is looked up in
what it keeps of the resource (`scim_extra`) when it is a plain top-level value; anything
else is refused with invalidFilter rather than answered wrongly.
"""

from django.db.models import Q
from scim2_models import InvalidFilterException
from scim2_models.path.expressions import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from governance.scim.resources import ENTERPRISE, ENTERPRISE_FIELDS

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:user"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:group"

USER_FIELDS = {
    "id": "pk", "username": "username", "externalid": "external_id",
    "emails": "email", "emails.value": "email", "displayname": "display_name",
    "name.givenname": "first_name", "name.familyname": "last_name", "title": "job_title",
    "usertype": "employee_type", "active": "is_active", "meta.created": "date_joined",
    "meta.lastmodified": "modified_at", "manager": "manager_id", "manager.value": "manager_id",
    **{attribute.lower(): field for attribute, field in ENTERPRISE_FIELDS.items()},
}
GROUP_FIELDS = {
    "id": "pk", "displayname": "display_name", "externalid": "external_id",
    "members": "memberships__user_id", "members.value": "memberships__user_id",
    "meta.created": "created_at", "meta.lastmodified": "modified_at",
}
# Values compared without regard to case (caseExact false in RFC 7643's schemas).
CASE_INSENSITIVE = {"username", "email", "display_name", "first_name", "last_name",
                    "job_title", "employee_type", *ENTERPRISE_FIELDS.values()}
LOOKUPS = {CompareOperator.co: "contains", CompareOperator.sw: "startswith",
           CompareOperator.ew: "endswith", CompareOperator.gt: "gt",
           CompareOperator.ge: "gte", CompareOperator.lt: "lt", CompareOperator.le: "lte"}
NUMERIC = {"pk", "manager_id", "memberships__user_id"}


def _name(path: AttrPath, prefix: str = "") -> str:
    uri = (path.uri or "").lower()
    if uri in (CORE_USER, CORE_GROUP):
        uri = ""
    name = path.attr.lower() + (f".{path.sub_attr.lower()}" if path.sub_attr else "")
    if prefix:
        name = f"{prefix}.{name}"
    return name if not uri or uri == ENTERPRISE.lower() else f"{uri}:{name}"


def _field(path: AttrPath, fields: dict, prefix: str = "") -> str:
    name = _name(path, prefix)
    if name in fields:
        return fields[name]
    if "." not in name and ":" not in name:
        return f"scim_extra__{path.attr}"
    raise InvalidFilterException(detail=f"Filtering on {path} is not supported here.")


def _value(field: str, value):
    if field in NUMERIC:
        try:
            return int(value)
        except (TypeError, ValueError):
            return -1  # an id that is no number matches nothing
    return value


def _comparison(node: Comparison, fields: dict, prefix: str) -> Q:
    field = _field(node.attr_path, fields, prefix)
    value = _value(field, node.value)
    if node.op in (CompareOperator.eq, CompareOperator.ne):
        if value is None:
            condition = Q(**{f"{field}__isnull": True})
        else:
            lookup = "iexact" if field in CASE_INSENSITIVE else "exact"
            condition = Q(**{f"{field}__{lookup}": value})
        return ~condition if node.op == CompareOperator.ne else condition
    lookup = LOOKUPS[node.op]
    if lookup in ("contains", "startswith", "endswith") and (
            field in CASE_INSENSITIVE or field.startswith("scim_extra")):
        lookup = f"i{lookup}"
    return Q(**{f"{field}__{lookup}": value})


def _present(node: Present, fields: dict, prefix: str) -> Q:
    field = _field(node.attr_path, fields, prefix)
    present = Q(**{f"{field}__isnull": False})
    if field not in NUMERIC and field not in ("is_active", "date_joined", "modified_at",
                                              "created_at"):
        present &= ~Q(**{field: ""})
    return present


def to_condition(node: FilterNode, fields: dict, prefix: str = "") -> Q:
    if isinstance(node, Comparison):
        return _comparison(node, fields, prefix)
    if isinstance(node, Present):
        return _present(node, fields, prefix)
    if isinstance(node, Not):
        return ~to_condition(node.expr, fields, prefix)
    if isinstance(node, LogicalExpr):
        conditions = [to_condition(term, fields, prefix) for term in node.terms]
        combined = conditions[0]
        for condition in conditions[1:]:
            combined = combined & condition if node.op == LogicalOperator.and_ \
                else combined | condition
        return combined
    if isinstance(node, ValuePath):
        return to_condition(node.val_filter, fields, _name(node.attr_path))
    raise InvalidFilterException(detail=f"The filter {node} is not supported here.")
