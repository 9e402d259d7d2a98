"""Membership rules: which people an automatic policy is for, in Microsoft Entra's dynamic
membership rule syntax (`user.department -eq "Sales" -and -not (...)`).

`parse(rule)` reads one into a tree (or raises RuleError naming the column), `as_condition`
turns the tree into one SQL condition on the people, and `matches(tree, person)` tests one
person in Python, with the same answers; `unmet(tree, person)` says which comparisons failed.
"""

from governance.rules.evaluate import as_condition, matches, unmet
from governance.rules.parse import RuleError, parse

__all__ = ["RuleError", "as_condition", "matches", "parse", "unmet"]
