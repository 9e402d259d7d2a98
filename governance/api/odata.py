"""OData query options ($filter, $select, $expand, $orderby, $top, $skip, $skiptoken,
$count) applied to a QuerySet, and ``page()``, which answers a Graph collection.

The field maps are built with the helpers of ``odata_fields`` (re-exported here, as
``odata.text(...)``); ``$filter`` is parsed by ``odata_filter``.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

from .odata_fields import (  # noqa: F401  (the field helpers are used as odata.text(...))
    DEFAULT_TOP,
    MAX_TOP,
    OPTIONS,
    Field,
    ODataError,
    boolean,
    enum,
    ident,
    instant,
    integer,
    text,
)
from .odata_filter import parse_filter


def _names(raw: str, option: str) -> list[str]:
    names = [name.strip() for name in raw.split(",")]
    if not all(names):
        raise ODataError(f"{option}: empty name in '{raw}'.")
    return names


def parse_select(raw: str | None, fields: Mapping[str, Field], extra: Iterable[str] = ()):
    """The selected property names (None when $select is absent)."""
    if raw is None:
        return None
    # A path such as employeeOrgData/costCenter makes its complex property selectable.
    known = set(fields) | {name.split("/", 1)[0] for name in fields} | set(extra)
    names = _names(raw, "$select")
    for name in names:
        if name not in known:
            raise ODataError(f"$select: '{name}' is not a property; "
                             f"selectable are {', '.join(sorted(known))}.")
    return names


def _split_outside_parentheses(raw: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in raw:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


# "resourceRoleScopes($expand=role,scope)": Graph's tutorials nest one $expand; the nested
# navigation properties are part of what the outer one shows, so the nesting is accepted.
_NESTED_EXPAND = re.compile(r"(?P<name>\w+)\(\$expand=[\w,]+\)")


def parse_expand(raw: str | None, allowed: Iterable[str]) -> list[str]:
    names = []
    for item in (_split_outside_parentheses(raw) if raw is not None else []):
        item = item.strip()
        if not item:
            raise ODataError(f"$expand: empty name in '{raw}'.")
        nested = _NESTED_EXPAND.fullmatch(item)
        names.append(nested.group("name") if nested else item)
    allowed = set(allowed)
    for name in names:
        if "(" in name or "/" in name:
            raise ODataError(f"$expand: '{name}' nests options or levels; "
                             "only one level of navigation properties is supported.")
        if name not in allowed:
            choices = ", ".join(sorted(allowed)) or "none"
            raise ODataError(f"$expand: '{name}' cannot be expanded; expandable are {choices}.")
    return names


def parse_orderby(raw: str | None, fields: Mapping[str, Field]) -> list[str]:
    """ORM order_by arguments for '$orderby=displayName desc,createdDateTime'."""
    if raw is None:
        return []
    ordering = []
    for item in _names(raw, "$orderby"):
        name, *direction = item.split()
        if len(direction) > 1 or (direction and direction[0] not in ("asc", "desc")):
            raise ODataError(f"$orderby: '{item}' should be a property, then asc or desc.")
        spec = fields.get(name)
        if spec is None or not spec.sortable:
            sortable = ", ".join(sorted(n for n, f in fields.items() if f.sortable))
            raise ODataError(f"$orderby: cannot sort by '{name}'; sortable are {sortable}.")
        ordering.append(("-" if direction == ["desc"] else "") + spec.path)
    return ordering


def _whole(raw: str | None, option: str, *, low: int, high: int | None = None) -> int | None:
    if raw is None:
        return None
    if not re.fullmatch(r"\d+", raw.strip()):
        raise ODataError(f"{option}: '{raw}' is not a whole number.")
    value = int(raw)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ODataError(f"{option}: {value} is out of range; it must be {bounds}.")
    return value


def parse_count(raw: str | None) -> bool:
    if raw not in (None, "true", "false"):
        raise ODataError(f"$count: '{raw}' should be true or false.")
    return raw == "true"


@dataclass
class QueryOptions:
    filter: Q | None
    select: list[str] | None
    expand: list[str]
    orderby: list[str]
    top: int
    skip: int
    count: bool


def parse_options(params: Mapping[str, str], fields: Mapping[str, Field], *,
                  expandable: Iterable[str] = (), default_top: int = DEFAULT_TOP,
                  ) -> QueryOptions:
    """Read and check every query option; unknown $-options are refused."""
    for key in params:
        if key.startswith("$") and key not in OPTIONS:
            raise ODataError(f"The query option '{key}' is not supported.")
    raw_filter = params.get("$filter")
    skiptoken = _whole(params.get("$skiptoken"), "$skiptoken", low=0)
    skip = _whole(params.get("$skip"), "$skip", low=0)
    return QueryOptions(
        filter=parse_filter(raw_filter, fields) if raw_filter is not None else None,
        select=parse_select(params.get("$select"), fields),
        expand=parse_expand(params.get("$expand"), expandable),
        orderby=parse_orderby(params.get("$orderby"), fields),
        top=_whole(params.get("$top"), "$top", low=1, high=MAX_TOP) or default_top,
        skip=skiptoken if skiptoken is not None else (skip or 0),
        count=parse_count(params.get("$count")),
    )


def apply(queryset: QuerySet, options: QueryOptions) -> QuerySet:
    """Filter and order (by pk last, so pages are stable); paging is left to page()."""
    if options.filter is not None:
        queryset = queryset.filter(options.filter)
    ordering = options.orderby or list(queryset.query.order_by or queryset.model._meta.ordering)
    return queryset.order_by(*ordering, "pk")


def _project(item: dict, select: list[str] | None) -> dict:
    keep = (lambda k: k in select or k == "id" or k.startswith("@")) if select else None
    return {k: v for k, v in item.items() if keep(k)} if keep else item


def next_link(request, skiptoken: int) -> str:
    params = [(k, v) for k, values in request.GET.lists() for v in values
              if k not in ("$skip", "$skiptoken")]
    params.append(("$skiptoken", str(skiptoken)))
    return request.build_absolute_uri(request.path) + "?" + urlencode(params, safe="$,'()")


def page(request, queryset: QuerySet, field_map: Mapping[str, Field], *, context_url: str,
         serialize: Callable[..., dict], expandable: Iterable[str] = (),
         default_top: int = DEFAULT_TOP) -> dict:
    """One page of a Graph collection. ``serialize(obj, expand=[...])`` gives an item's
    JSON; $select keeps only the chosen properties (and id and annotations)."""
    params = getattr(request, "query_params", request.GET)
    options = parse_options(params, field_map, expandable=expandable, default_top=default_top)
    queryset = apply(queryset, options)
    body = {"@odata.context": context_url + (f"({','.join(options.select)})"
                                             if options.select else "")}
    if options.count:
        body["@odata.count"] = queryset.count()
    rows = list(queryset[options.skip:options.skip + options.top + 1])
    body["value"] = [_project(serialize(obj, expand=options.expand), options.select)
                     for obj in rows[:options.top]]
    if len(rows) > options.top:
        body["@odata.nextLink"] = next_link(request, options.skip + options.top)
    return body
