"""OData query options ($filter, $select, $expand, $orderby, $top, $skip, $skiptoken,
$count) applied to a QuerySet, and ``page()``, which answers a Graph collection.

Each resource declares a field map, Graph's camelCase name → ``Field``, e.g.
``{"id": ident("pk"), "displayName": text("display_name"), "state": enum("state",
["published", "unpublished"]), "createdDateTime": instant("created_at")}``.

``$filter`` is tokenized and parsed by recursive descent into a ``Q`` (nothing is
evaluated). Supported: ``eq``, ``ne``, ``and``, ``or``, ``not``, parentheses,
``startswith(field,'x')``; literals 'text' (with '' for a quote), true, false, null,
integers and ISO 8601 date-times. String comparisons ignore case, as Entra's do.
Anything else is an ``ODataError`` (a 400 "BadRequest") naming the problem and the
character where it is.
"""

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

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


@dataclass(frozen=True)
class Token:
    kind: str  # "string", "datetime", "number", "name", "(", ")", ",", "end"
    text: str
    pos: int  # 1-based character in the expression

    def describe(self) -> str:
        return "the end of the expression" if self.kind == "end" else f"'{self.text}'"


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[(),])
""", re.VERBOSE)


def tokenize(expression: str) -> list[Token]:
    tokens, offset = [], 0
    while offset < len(expression):
        match = _TOKEN.match(expression, offset)
        if not match:
            char = expression[offset]
            if char == "'":
                raise _bad(f"unterminated string starting at character {offset + 1}")
            raise _bad(f"unexpected character '{char}' at character {offset + 1}")
        kind = match.lastgroup
        if kind == "punct":
            kind = match.group()
        if kind != "space":
            tokens.append(Token(kind, match.group(), offset + 1))
        offset = match.end()
    tokens.append(Token("end", "", len(expression) + 1))
    return tokens


def _bad(problem: str) -> ODataError:
    return ODataError(f"Invalid filter clause: {problem}.")


_OPERATORS = {"eq", "ne"}
_UNSUPPORTED_OPERATORS = {"gt", "ge", "lt", "le", "has", "in", "add", "sub", "mul", "div"}


class _Parser:
    def __init__(self, expression: str, fields: Mapping[str, Field]):
        self.tokens = tokenize(expression)
        self.index = 0
        self.fields = fields

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def keyword(self, word: str) -> bool:
        found = self.peek().kind == "name" and self.peek().text == word
        self.index += found
        return found

    def expect(self, kind: str, what: str) -> Token:
        token = self.take()
        if token.kind != kind:
            raise _bad(f"expected {what} at character {token.pos}, found {token.describe()}")
        return token

    def parse(self) -> Q:
        if self.peek().kind == "end":
            raise _bad("the expression is empty")
        result = self.disjunction()
        token = self.peek()
        if token.kind != "end":
            raise _bad(f"unexpected {token.describe()} at character {token.pos}")
        return result

    def disjunction(self) -> Q:
        result = self.conjunction()
        while self.keyword("or"):
            result = result | self.conjunction()
        return result

    def conjunction(self) -> Q:
        result = self.unary()
        while self.keyword("and"):
            result = result & self.unary()
        return result

    def unary(self) -> Q:
        if self.keyword("not"):
            return ~self.unary()
        token = self.peek()
        if token.kind == "(":
            self.take()
            result = self.disjunction()
            self.expect(")", "')'")
            return result
        if token.kind == "name" and self.tokens[self.index + 1].kind == "(":
            return self.function()
        return self.comparison()

    def field(self) -> tuple[Token, Field]:
        token = self.expect("name", "a property name")
        if token.text not in self.fields:
            raise _bad(f"unknown property '{token.text}' at character {token.pos}; "
                       f"filterable properties are {', '.join(sorted(self.fields))}")
        return token, self.fields[token.text]

    def function(self) -> Q:
        name = self.take()
        if name.text != "startswith":
            raise _bad(f"unsupported function '{name.text}' at character {name.pos}; "
                       "only startswith is supported")
        self.expect("(", "'('")
        token, spec = self.field()
        if spec.type != "str":
            raise _bad(f"startswith needs a text property, and '{token.text}' "
                       f"(character {token.pos}) is not one")
        self.expect(",", "','")
        literal = self.expect("string", "a quoted string")
        self.expect(")", "')'")
        return Q(**{f"{spec.path}__istartswith": _unquote(literal.text)})

    def comparison(self) -> Q:
        token, spec = self.field()
        operator = self.take()
        if operator.kind != "name" or operator.text not in _OPERATORS:
            if operator.kind == "name" and operator.text in _UNSUPPORTED_OPERATORS:
                raise _bad(f"unsupported operator '{operator.text}' at character "
                           f"{operator.pos}; only eq and ne are supported")
            raise _bad(f"expected eq or ne after '{token.text}' at character {operator.pos}, "
                       f"found {operator.describe()}")
        literal = self.take()
        value = _value(literal, token.text, spec)
        if value is None:
            condition = Q(**{f"{spec.path}__isnull": True})
        elif spec.type == "str":
            condition = Q(**{f"{spec.path}__iexact": value})
        else:
            condition = Q(**{spec.path: value})
        return condition if operator.text == "eq" else ~condition


_EXPECTED = {"str": "a quoted string", "enum": "a quoted enum value", "bool": "true or false",
             "int": "an integer", "id": "an id",
             "datetime": "an ISO 8601 date-time with Z or an offset"}


def _unquote(literal: str) -> str:
    return literal[1:-1].replace("''", "'")


def _value(literal: Token, name: str, spec: Field):
    """The Python value of a literal compared with property ``name``."""
    where = f"at character {literal.pos}"
    if literal.kind == "name" and literal.text == "null":
        return None
    if spec.type in ("str", "enum") and literal.kind == "string":
        value = _unquote(literal.text)
        if spec.type == "enum":
            if value not in spec.values:
                raise _bad(f"'{value}' {where} is not a value of {name}; "
                           f"expected one of {', '.join(spec.values)}")
            return spec.values[value]
        return value
    if spec.type == "bool" and literal.kind == "name" and literal.text in ("true", "false"):
        return literal.text == "true"
    if spec.type in ("int", "id") and literal.kind in ("number", "string"):
        raw = _unquote(literal.text) if literal.kind == "string" else literal.text
        if re.fullmatch(r"-?\d+", raw):
            return int(raw)
    if spec.type == "datetime" and literal.kind in ("datetime", "string"):
        raw = _unquote(literal.text) if literal.kind == "string" else literal.text
        try:
            parsed = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed
    if literal.kind in ("end", "(", ")", ","):
        raise _bad(f"expected a value for {name} {where}, found {literal.describe()}")
    raise _bad(f"{literal.describe()} {where} is not a valid value for {name}; "
               f"expected {_EXPECTED[spec.type]}")


def parse_filter(expression: str, fields: Mapping[str, Field]) -> Q:
    return _Parser(expression, fields).parse()


def _names(raw: str, option: str) -> list[str]:
    names = [name.strip() for name in raw.split(",")]
    if not all(names):
        raise ODataError(f"{option}: empty name in '{raw}'.")
    return names


def parse_select(raw: str | None, fields: Mapping[str, Field], extra: Iterable[str] = ()):
    """The selected property names (None when $select is absent)."""
    if raw is None:
        return None
    known = set(fields) | set(extra)
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
