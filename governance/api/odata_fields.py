"""The properties an OData query may name: each resource's field map, Graph's camelCase name
→ ``Field`` (its ORM path and type), e.g. ``{"id": ident("pk"), "displayName":
text("display_name"), "state": enum("state", ["published", "unpublished"])}``; and the error
every refused query option raises (a 400 "BadRequest")."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import GraphError

MAX_TOP = 999
DEFAULT_TOP = 100
OPTIONS = {"$filter", "$select", "$expand", "$orderby", "$top", "$skip", "$skiptoken", "$count"}


class ODataError(GraphError):
    code = "BadRequest"


@dataclass(frozen=True)
class Field:
    path: str  # ORM lookup path
    type: str  # "str", "bool", "int", "id", "datetime", "enum"
    values: Mapping[str, str] = field(default_factory=dict)  # enum: Graph value → stored
    sortable: bool = True


def text(path: str, **kw) -> Field:
    return Field(path, "str", **kw)


def boolean(path: str, **kw) -> Field:
    return Field(path, "bool", **kw)


def ident(path: str = "pk", **kw) -> Field:
    return Field(path, "id", **kw)


def instant(path: str, **kw) -> Field:
    return Field(path, "datetime", **kw)


def integer(path: str, **kw) -> Field:
    return Field(path, "int", **kw)


def enum(path: str, values: Mapping[str, str] | Iterable[str], **kw) -> Field:
    values = dict(values) if isinstance(values, Mapping) else {v: v for v in values}
    return Field(path, "enum", values=values, **kw)
