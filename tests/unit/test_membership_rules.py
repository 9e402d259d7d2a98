"""Membership rules (governance.rules): every operator, on PostgreSQL and in Python; every
kind of error with the column it points at; and a property test that the SQL condition and
the Python test agree on random people and random rules."""

import json

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from governance.models import User
from governance.rules import RuleError, as_condition, matches, parse

PEOPLE = [
    # email, department, job title, employee type, user type, active
    ("ann@access.example", "Sales", "Account executive", "Employee", "member", True),
    ("ben@access.example", "sales", "Intern", "Contractor", "member", True),
    ("cat@access.example", "Sales Ops", "Analyst", "Vendor", "member", False),
    ("dan@access.example", "R&D", "Engineer", "Employee", "member", True),
    ("eve@contoso.example", "", "", "", "guest", True),
]


@pytest.fixture
def people(db):
    made = {}
    for email, department, title, kind, user_type, active in PEOPLE:
        made[email.split("@")[0]] = User.objects.create(
            email=email, username=email, department=department, job_title=title,
            employee_type=kind, user_type=user_type, is_active=active)
    made["dan"].manager = made["ann"]
    made["dan"].save()
    return made


@pytest.mark.parametrize(("rule", "expected"), [
    ('user.department -eq "Sales"', {"ann", "ben"}),
    ('user.department -ne "sales"', {"cat", "dan", "eve"}),
    ('user.department -eq null', {"eve"}),
    ('user.department -ne null', {"ann", "ben", "cat", "dan"}),
    ('user.department -startsWith "sal"', {"ann", "ben", "cat"}),
    ('user.department -notStartsWith "Sal"', {"dan", "eve"}),
    ('user.jobTitle -contains "ex"', {"ann"}),
    ('user.jobTitle -notContains "N"', {"eve"}),
    ('user.employeeType -in ["Contractor", "vendor"]', {"ben", "cat"}),
    ('user.employeeType -notIn ["Employee"]', {"ben", "cat", "eve"}),
    ('user.employeeType -in []', set()),
    ('user.department -match "^sales$"', {"ann", "ben"}),
    ('user.department -notMatch "s"', {"dan", "eve"}),
    ('user.userType -eq "Guest"', {"eve"}),
    ('user.userType -in ["member"]', {"ann", "ben", "cat", "dan"}),
    ('user.accountEnabled -eq false', {"cat"}),
    ('user.accountEnabled -ne false', {"ann", "ben", "dan", "eve"}),
    ('user.mail -contains "@contoso."', {"eve"}),
    ('user.manager -eq null', {"ann", "ben", "cat", "eve"}),
    ('user.department -eq "sales" -and user.jobTitle -ne "Intern"', {"ann"}),
    ('user.department -eq "R&D" -or user.userType -eq "guest"', {"dan", "eve"}),
    ('-not (user.department -startsWith "s")', {"dan", "eve"}),
    ('-NOT user.accountEnabled -EQ TRUE', {"cat"}),
    ('(user.department -eq "Sales" -or user.department -eq "R&D") -and '
     'user.employeeType -eq "Employee"', {"ann", "dan"}),
    ('user.department -eq "Sales" -or user.department -eq "R&D" -and '
     'user.employeeType -eq "Contractor"', {"ann", "ben"}),  # -and binds first, as in Entra
])
def test_each_operator_on_postgresql_and_in_python(people, rule, expected):
    tree = parse(rule)
    by_sql = {user.email.split("@")[0]
              for user in User.objects.filter(as_condition(tree), pk__in=[
                  p.pk for p in people.values()])}
    by_python = {name for name, person in people.items() if matches(tree, person)}
    assert by_sql == by_python == expected


def test_the_manager_is_compared_by_id(people):
    tree = parse(f'user.manager -eq "{people["ann"].pk}"')
    assert list(User.objects.filter(as_condition(tree))) == [people["dan"]]
    assert matches(tree, people["dan"]) and not matches(tree, people["ann"])


def test_a_quoted_value_can_hold_quotes_and_backslashes(people):
    tree = parse(r'user.jobTitle -eq "say \"hi\" \\ bye"')
    assert tree.value == 'say "hi" \\ bye'


@pytest.mark.parametrize(("rule", "column", "words"), [
    ('user.department -equals "Sales"', 17, "-equals"),
    ('user.country -eq "FR"', 1, "user.country"),
    ('user.department -eq', 20, "ends too soon"),
    ('(user.department -eq "x"', 25, ")"),
    ('user.department -eq "x" -and', 29, "ends too soon"),
    ('user.department -eq "x" user.jobTitle', 25, "user.jobTitle"),
    ('user.accountEnabled -startsWith "t"', 21, "-startsWith"),
    ('user.accountEnabled -eq "yes"', 21, "true or false"),
    ('user.department -eq true', 17, "double quotes"),
    ('user.department -startsWith null', 17, "not null"),
    ('user.userType -eq "Admin"', 15, "Member"),
    ('user.manager -eq "ann"', 14, "id of a person"),
    ('user.department -match "["', 17, "regular expression"),
    ('user.department -eq "unterminated', 21, "not part of the rule language"),
    ('department -eq "Sales"', 1, "not part of the rule language"),
    ('user.department -in "Sales"', 21, "“\"Sales\"”"),
], ids=lambda value: str(value)[:30])
def test_an_error_names_the_column_where_the_rule_stops_reading(rule, column, words):
    with pytest.raises(RuleError) as caught:
        parse(rule)
    assert caught.value.column == column, caught.value.message
    assert caught.value.message.startswith(f"Column {column}: ")
    assert words in caught.value.message, caught.value.message


@pytest.mark.parametrize("rule", ["", "   ", None, "x" * 3001])
def test_an_empty_or_huge_rule_is_refused(rule):
    with pytest.raises(RuleError):
        parse(rule)


# The property test: random people, random rules, the same answer from SQL and Python.
# ASCII only: PostgreSQL's upper() and Python's str.upper() differ on some other letters.

WORDS = ["Sales", "sales", "Sa", "les", "R&D", "Engineering", "", "a b", "%_"]
TEXT = st.sampled_from(WORDS) | st.text(alphabet="abcSAL &%_", max_size=6)
TEXT_ATTRIBUTES = {"department": "department", "jobTitle": "job_title",
                   "employeeType": "employee_type", "companyName": "company_name"}
PATTERNS = ["^Sa", "les$", "s.l", "^$", "a|b", "[RD]"]


def _quoted(value: str) -> str:
    return json.dumps(value)


def _text_comparison(draw) -> str:
    attribute = draw(st.sampled_from(sorted(TEXT_ATTRIBUTES)))
    operator = draw(st.sampled_from(["eq", "ne", "startsWith", "notStartsWith", "contains",
                                     "notContains", "match", "notMatch", "in", "notIn",
                                     "eq-null", "ne-null"]))
    if operator.endswith("-null"):
        return f"user.{attribute} -{operator[:2]} null"
    if operator in ("in", "notIn"):
        items = draw(st.lists(TEXT, max_size=3))
        return f"user.{attribute} -{operator} [{', '.join(map(_quoted, items))}]"
    if operator in ("match", "notMatch"):
        return f"user.{attribute} -{operator} {_quoted(draw(st.sampled_from(PATTERNS)))}"
    return f"user.{attribute} -{operator} {_quoted(draw(TEXT))}"


@st.composite
def comparisons(draw) -> str:
    kind = draw(st.sampled_from(["text", "text", "text", "boolean", "userType"]))
    if kind == "boolean":
        return (f"user.accountEnabled -{draw(st.sampled_from(['eq', 'ne']))} "
                f"{draw(st.sampled_from(['true', 'false']))}")
    if kind == "userType":
        return f'user.userType -{draw(st.sampled_from(["eq", "ne"]))} ' \
               f'{_quoted(draw(st.sampled_from(["Member", "guest"])))}'
    return _text_comparison(draw)


RULES = st.recursive(
    comparisons(),
    lambda inner: st.builds(lambda a, op, b: f"({a}) {op} ({b})", inner, st.sampled_from(
        ["-and", "-or"]), inner) | st.builds(lambda a: f"-not ({a})", inner),
    max_leaves=5)
PERSON = st.fixed_dictionaries({
    "department": TEXT, "job_title": TEXT, "employee_type": TEXT, "company_name": TEXT,
    "user_type": st.sampled_from(["member", "guest"]), "is_active": st.booleans()})


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rule=RULES, population=st.lists(PERSON, min_size=1, max_size=6))
def test_sql_and_python_agree_on_random_people_and_rules(db, rule, population):
    tree = parse(rule)
    with transaction.atomic():
        made = User.objects.bulk_create([
            User(email=f"p{n}@rules.example", username=f"p{n}@rules.example", **fields)
            for n, fields in enumerate(population)])
        ids = [user.pk for user in made]
        by_sql = set(User.objects.filter(as_condition(tree), pk__in=ids)
                     .values_list("pk", flat=True))
        by_python = {user.pk for user in User.objects.filter(pk__in=ids) if matches(tree, user)}
        transaction.set_rollback(True)
    assert by_sql == by_python, rule
