"""``$filter``, tokenized and parsed by recursive descent into a ``Q`` (nothing is
evaluated). Supported: ``eq``, ``ne``, ``and``, ``or``, ``not``, parentheses,
``startswith(field,'x')``; literals 'text' (with '' for a quote), true, false, null, integers
and ISO 8601 date-times; property paths such as ``resource/id`` when the field map names them.
String comparisons ignore case, as Entra's do. Anything else is an ``ODataError`` naming the
problem and the character where it is.
"""

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import Q

from .odata_fields import Field, ODataError


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
