"""Reading a membership rule into a small tree, checked against the people's attributes; a
rule that does not read, or asks for what the portal does not keep, is refused with a
message that points at its column."""

import json
from dataclasses import dataclass
from functools import cache

import regex
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from governance.rules.grammar import GRAMMAR

TEXT, BOOLEAN, USER_TYPE, PERSON = "text", "boolean", "userType", "person"
# Graph's property (lower-cased, as Entra reads it whatever its case) → (the canonical
# name, the User field, its kind).
ATTRIBUTES = {name.lower(): (name, field, kind) for name, field, kind in [
    ("department", "department", TEXT), ("jobTitle", "job_title", TEXT),
    ("employeeId", "employee_id", TEXT), ("employeeType", "employee_type", TEXT),
    ("companyName", "company_name", TEXT), ("officeLocation", "office_location", TEXT),
    ("mail", "email", TEXT), ("userType", "user_type", USER_TYPE),
    ("accountEnabled", "is_active", BOOLEAN), ("manager", "manager_id", PERSON),
]}
OPERATORS = {name.lower(): name for name in (
    "eq", "ne", "startsWith", "notStartsWith", "contains", "notContains", "match", "notMatch",
    "in", "notIn")}
# What each kind of attribute may be compared with.
ALLOWED = {
    TEXT: {"eq", "ne", "startsWith", "notStartsWith", "contains", "notContains", "match",
           "notMatch", "in", "notIn"},
    USER_TYPE: {"eq", "ne", "in", "notIn"},
    BOOLEAN: {"eq", "ne"},
    PERSON: {"eq", "ne"},
}
USER_TYPES = {"member": "member", "guest": "guest"}
RULE_MAX = 3000  # characters, as Entra's limit


class RuleError(ValueError):
    """A rule that cannot be used; `column` (1-based) is where reading it failed."""

    def __init__(self, message: str, column: int | None = None):
        self.column = column
        super().__init__(f"Column {column}: {message}" if column else message)
        self.message = str(self)


@dataclass(frozen=True)
class Comparison:
    attribute: str        # Graph's name: "department"
    field: str            # the User field: "department"
    kind: str             # TEXT, BOOLEAN, USER_TYPE or PERSON
    operator: str         # "eq", "notStartsWith", "in", ...
    value: object         # str, bool, None, or a tuple of str for -in/-notIn
    column: int


@dataclass(frozen=True)
class Not:
    term: object


@dataclass(frozen=True)
class All:
    terms: tuple


@dataclass(frozen=True)
class Either:
    terms: tuple


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _text(token: Token) -> str:
    return json.loads(token.value)  # a JSON string literal: \" and \\ inside


def _check_value(attribute, field, kind, operator, value, column) -> object:
    if operator in ("in", "notIn"):
        if kind == USER_TYPE:
            return tuple(_user_type(item, column) for item in value)
        return value
    if kind == BOOLEAN:
        if not isinstance(value, bool):
            raise RuleError(f"user.{attribute} is true or false.", column)
        return value
    if kind == USER_TYPE:
        return _user_type(value, column)
    if kind == PERSON:
        if value is not None and not (isinstance(value, str) and value.strip().isdigit()):
            raise RuleError(f"user.{attribute} is compared with the id of a person, such as "
                            "\"42\", or null.", column)
        return None if value is None else int(value)
    if isinstance(value, bool):
        raise RuleError(f"user.{attribute} is text: put the value in double quotes.", column)
    if value is None and operator not in ("eq", "ne"):
        raise RuleError(f"-{operator} needs a value in double quotes, not null.", column)
    if operator in ("match", "notMatch"):
        try:
            regex.compile(value)
        except regex.error as problem:
            raise RuleError(f"the pattern of -{operator} is not a regular expression: "
                            f"{problem}.", column) from None
    return value


def _user_type(value, column) -> str:
    found = USER_TYPES.get(str(value).lower()) if isinstance(value, str) else None
    if found is None:
        raise RuleError("user.userType is \"Member\" or \"Guest\".", column)
    return found


@v_args(inline=True)
class _ToTree(Transformer):
    def string(self, token):
        return _text(token)

    def true(self, _token):
        return True

    def false(self, _token):
        return False

    def null(self, _token):
        return None

    def list(self, *items):
        return tuple(_text(item) for item in items if item is not None)

    def comparison(self, prop: Token, operator: Token, value):
        name = prop.value.split(".", 1)[1]
        found = ATTRIBUTES.get(name.lower())
        if found is None:
            known = ", ".join(f"user.{canonical}" for canonical, _f, _k in ATTRIBUTES.values())
            raise RuleError(f"user.{name} is not an attribute the portal keeps; use one of "
                            f"{known}.", prop.column)
        attribute, field, kind = found
        op = OPERATORS[operator.value[1:].lower()]
        if op not in ALLOWED[kind]:
            allowed = ", ".join(f"-{name}" for name in sorted(ALLOWED[kind]))
            raise RuleError(f"user.{attribute} cannot be compared with -{op}; use {allowed}.",
                            operator.column)
        return Comparison(attribute, field, kind, op,
                          _check_value(attribute, field, kind, op, value, operator.column),
                          prop.column)

    def not_(self, term):
        return Not(term)

    def conjunction(self, *terms):
        return All(terms)

    def disjunction(self, *terms):
        return Either(terms)


def _expected(names) -> str:
    words = {"PROPERTY": "a property such as user.department", "OPERATOR": "an operator "
             "such as -eq", "LIST_OPERATOR": "-in", "STRING": "a value in double quotes",
             "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "_AND": "-and", "_OR": "-or",
             "_NOT": "-not", "COMMA": ",", "TRUE": "true", "FALSE": "false", "NULL": "null"}
    shown = sorted({words.get(name, name) for name in names})
    return " or ".join(shown[:4]) if shown else "the end of the rule"


def _syntax_error(rule: str, error: UnexpectedInput) -> RuleError:
    if isinstance(error, UnexpectedEOF):
        return RuleError(f"the rule ends too soon; expected {_expected(error.expected)}.",
                         len(rule) + 1)
    column = getattr(error, "column", None)
    if isinstance(error, UnexpectedCharacters):
        found = rule[error.pos_in_stream:error.pos_in_stream + 12].split(" ")[0]
        return RuleError(f"“{found}” is not part of the rule language; expected "
                         f"{_expected(error.allowed)}.", column)
    if isinstance(error, UnexpectedToken):
        if error.token.type == "$END":
            return RuleError(f"the rule ends too soon; expected {_expected(error.expected)}.",
                             len(rule) + 1)
        return RuleError(f"“{error.token.value}” is not expected here; expected "
                         f"{_expected(error.expected)}.", column)
    return RuleError("the rule does not read.", column)


def parse(rule: str):
    """The tree of `rule`; RuleError (with its column) when it does not read or asks for what
    the portal does not keep."""
    if not isinstance(rule, str) or not rule.strip():
        raise RuleError("Write a rule, such as user.department -eq \"Sales\".")
    if len(rule) > RULE_MAX:
        raise RuleError(f"A rule has at most {RULE_MAX} characters.")
    try:
        tree = _parser().parse(rule)
    except UnexpectedInput as error:
        raise _syntax_error(rule, error) from None
    try:
        return _ToTree().transform(tree)
    except Exception as error:  # lark wraps what the transformer raised
        cause = getattr(error, "orig_exc", error)
        if isinstance(cause, RuleError):
            raise cause from None
        raise
