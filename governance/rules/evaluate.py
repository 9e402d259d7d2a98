"""A membership rule's tree (governance.rules.parse) as one SQL condition on the people
(`as_condition`, for evaluating a rule over everyone at once) and as a test of one person in
Python (`matches`). The two agree: text compares without regard to case (as Entra's rules
do, and as Django's iexact/icontains compare on PostgreSQL: upper-cased), an attribute nobody
set is the empty string, and `null` means exactly that.
"""

import regex
from django.db.models import Q

from governance.rules.parse import BOOLEAN, PERSON, USER_TYPE, All, Comparison, Either, Not

MATCH_TIMEOUT = 0.1  # seconds, per person, for -match in Python (the stored pattern is
# checked at save time by the services' pattern rules, as questions' patterns are)
NOTHING = Q(pk__in=[])


def _text_condition(field: str, operator: str, value) -> Q:
    negated = operator in ("ne", "notStartsWith", "notContains", "notMatch", "notIn")
    if operator in ("eq", "ne"):
        condition = Q(**{field: ""}) if value is None else Q(**{f"{field}__iexact": value})
    elif operator in ("in", "notIn"):
        condition = NOTHING
        for item in value:
            condition |= Q(**{f"{field}__iexact": item})
    else:
        lookup = {"startsWith": "istartswith", "notStartsWith": "istartswith",
                  "contains": "icontains", "notContains": "icontains", "match": "iregex",
                  "notMatch": "iregex"}[operator]
        condition = Q(**{f"{field}__{lookup}": value})
    return ~condition if negated else condition


def _comparison_condition(node: Comparison) -> Q:
    if node.kind in (BOOLEAN, PERSON, USER_TYPE) and node.operator in ("eq", "ne"):
        condition = Q(**{f"{node.field}__isnull": True}) if node.value is None \
            else Q(**{node.field: node.value})
        return ~condition if node.operator == "ne" else condition
    if node.kind == USER_TYPE:  # -in / -notIn
        condition = Q(**{f"{node.field}__in": list(node.value)})
        return ~condition if node.operator == "notIn" else condition
    return _text_condition(node.field, node.operator, node.value)


def as_condition(node) -> Q:
    """The rule as one condition on User rows."""
    if isinstance(node, Comparison):
        return _comparison_condition(node)
    if isinstance(node, Not):
        return ~as_condition(node.term)
    combined = None
    for term in node.terms:
        condition = as_condition(term)
        if combined is None:
            combined = condition
        else:
            combined = combined & condition if isinstance(node, All) else combined | condition
    return combined


def _text_matches(actual: str, operator: str, value) -> bool:
    actual = (actual or "").upper()
    negated = operator in ("ne", "notStartsWith", "notContains", "notMatch", "notIn")
    if operator in ("eq", "ne"):
        found = actual == ("" if value is None else value.upper())
    elif operator in ("in", "notIn"):
        found = actual in {item.upper() for item in value}
    elif operator in ("startsWith", "notStartsWith"):
        found = actual.startswith(value.upper())
    elif operator in ("contains", "notContains"):
        found = value.upper() in actual
    else:
        found = regex.search(value, actual, flags=regex.IGNORECASE,
                             timeout=MATCH_TIMEOUT) is not None
    return found != negated


def _comparison_matches(node: Comparison, person) -> bool:
    actual = getattr(person, node.field)
    if node.kind in (BOOLEAN, PERSON, USER_TYPE) and node.operator in ("eq", "ne"):
        return (actual == node.value) != (node.operator == "ne")
    if node.kind == USER_TYPE:
        return (actual in node.value) != (node.operator == "notIn")
    return _text_matches(actual, node.operator, node.value)


def matches(node, person) -> bool:
    """Whether `person` (a User, or anything with its fields) satisfies the rule."""
    if isinstance(node, Comparison):
        return _comparison_matches(node, person)
    if isinstance(node, Not):
        return not matches(node.term, person)
    if isinstance(node, All):
        return all(matches(term, person) for term in node.terms)
    if isinstance(node, Either):
        return any(matches(term, person) for term in node.terms)
    raise TypeError(f"not a rule: {node!r}")


def _shown(value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(f'"{item}"' for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"'


def _describe(node: Comparison, person) -> str:
    actual = getattr(person, node.field)
    if node.kind == PERSON:
        actual = "no one" if actual is None else f"person {actual}"
    elif node.kind == BOOLEAN:
        actual = "true" if actual else "false"
    else:
        actual = f"“{actual}”" if actual else "empty"
    return (f"user.{node.attribute} is {actual}; the rule asks -{node.operator} "
            f"{_shown(node.value)} (column {node.column})")


def unmet(node, person) -> list[str]:
    """Why `person` does not match `node`, in words: each comparison that failed, with the
    person's value, the rule's and its column ([] when they match)."""
    if matches(node, person):
        return []
    if isinstance(node, Comparison):
        return [_describe(node, person)]
    if isinstance(node, Not):
        return ["the part after -not matches them: " + "; ".join(_met(node.term, person))]
    if isinstance(node, All):
        return [reason for term in node.terms for reason in unmet(term, person)]
    return [reason for term in node.terms for reason in unmet(term, person)]


def _met(node, person) -> list[str]:
    """The comparisons that make `node` true for `person` (for a -not that matched)."""
    if isinstance(node, Comparison):
        return [_describe(node, person).replace("; the rule asks", ", and the rule asks")]
    if isinstance(node, Not):
        return unmet(node.term, person)
    return [reason for term in node.terms if matches(term, person)
            for reason in _met(term, person)]
