"""The grammar of membership rules: the part of Microsoft Entra's dynamic membership rule
syntax for users that fits the portal's people (lark, LALR).

    user.department -eq "Sales" -and -not (user.jobTitle -startsWith "Intern")
    user.employeeType -in ["Contractor", "Vendor"] -or user.accountEnabled -eq false

Operators and keywords are case-insensitive, as in Entra; strings are double-quoted, with
\\" and \\\\ inside.
"""

GRAMMAR = r"""
?start: disjunction

?disjunction: conjunction (_OR conjunction)*
?conjunction: negation (_AND negation)*
?negation: _NOT negation          -> not_
         | "(" disjunction ")"
         | comparison

comparison: PROPERTY OPERATOR value
          | PROPERTY LIST_OPERATOR list

?value: STRING -> string
      | TRUE   -> true
      | FALSE  -> false
      | NULL   -> null

list: "[" [STRING ("," STRING)*] "]"

PROPERTY: /user\.[A-Za-z][A-Za-z0-9]*/i
OPERATOR.2: /-(eq|ne|startsWith|notStartsWith|contains|notContains|match|notMatch)(?![A-Za-z])/i
LIST_OPERATOR.2: /-(in|notIn)(?![A-Za-z])/i
_AND.2: /-and(?![A-Za-z])/i
_OR.2: /-or(?![A-Za-z])/i
_NOT.2: /-not(?![A-Za-z])/i
TRUE.2: /true(?![A-Za-z0-9])/i
FALSE.2: /false(?![A-Za-z0-9])/i
NULL.2: /null(?![A-Za-z0-9])/i
STRING: /"(?:[^"\\]|\\.)*"/

%import common.WS
%ignore WS
"""
