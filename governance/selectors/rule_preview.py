"""What a membership rule would do if it were saved now: the rule editor's preview (in the
policy admin, as the owner types) and the count the admin asks to confirm before a rule that
removes many people is saved.

Read-only, and in a fixed number of queries whatever the number of people: two for a new
policy (who matches and who of them would get the package, counted together; the first of
them), at most three more for a saved one (the first who would gain; who of its assignments
would lose access, counted in one aggregate; the first of those). The people are those the
engine would assign, `governance.services.automatic.matching_people`; the rule is read by the
same check the policy service runs (`rule_check`), so the preview and the save refuse alike.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q

from governance.choices import ASSIGNMENT_ACTIVE
from governance.models import AccessPackage, Assignment, AssignmentPolicy
from governance.rules import RuleError, parse
from governance.services.automatic import matching_people, rule_check
from governance.services.errors import InvalidInput

PEOPLE_SHOWN = 20  # matching people listed under the count
NAMES_SHOWN = 10   # names listed beside "would gain" and "would lose"


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    department: str


@dataclass
class RulePreview:
    rule: str
    error: str = ""
    column: int | None = None         # where reading the rule failed, 1-based
    matched: int = 0
    people: list[Person] = field(default_factory=list)   # the first PEOPLE_SHOWN matched
    # For a saved policy (or, for a new one, everyone who matches and does not hold the
    # package yet): what saving the rule now would change.
    is_saved: bool = False
    assigns: bool = True              # "Assign people who match"
    removes: bool = True              # "Remove access when they no longer match"
    grace_period: timedelta = timedelta(0)
    gaining: int = 0
    gaining_names: list[str] = field(default_factory=list)
    losing: int = 0                   # whose removal saving would schedule
    losing_names: list[str] = field(default_factory=list)
    already_leaving: int = 0          # no longer matching, their removal already scheduled
    coming_back: int = 0              # removal scheduled, but they match this rule: canceled

    @property
    def reads(self) -> bool:
        return not self.error

    @property
    def marker(self) -> str:
        """A caret under the column where reading failed, for a rule of one line."""
        if not self.column or "\n" in self.rule:
            return ""
        return " " * (self.column - 1) + "^"

    @property
    def more_people(self) -> int:
        return max(self.matched - len(self.people), 0)

    @property
    def more_gaining(self) -> int:
        return max(self.gaining - len(self.gaining_names), 0)

    @property
    def more_losing(self) -> int:
        return max(self.losing - len(self.losing_names), 0)

    @property
    def grace_days(self) -> int:
        return self.grace_period.days


def rule_tree(rule: str):
    """(tree, None, None), or (None, message, column) for a rule that cannot be used."""
    try:
        parse(rule)
    except RuleError as error:
        return None, error.message, error.column
    try:
        return rule_check(rule), None, None  # also the bounds on -match patterns
    except InvalidInput as error:
        return None, error.message, None


def _name(display_name: str, email: str) -> str:
    return display_name or email


def _losing(policy: AssignmentPolicy, tree):
    """The policy's live assignments, each with whether the rule (`tree`) still matches its
    person."""
    in_rule = Exists(matching_people(policy, tree).filter(pk=OuterRef("target_id")))
    return Assignment.objects.filter(policy=policy, state__in=ASSIGNMENT_ACTIVE) \
        .annotate(in_rule=in_rule)


def removal_count(policy: AssignmentPolicy, tree, *, removes: bool) -> int:
    """How many people saving `tree` as `policy`'s rule would schedule to lose access (one
    query; 0 for a new policy, or when it does not remove access)."""
    if policy.pk is None or not removes:
        return 0
    return _losing(policy, tree).filter(in_rule=False, rule_removal_at__isnull=True).count()


def rule_preview(rule: str, *, package: AccessPackage, policy: AssignmentPolicy | None = None,
                 assigns: bool = True, removes: bool = True,
                 grace_period: timedelta | None = None) -> RulePreview:
    """What `rule` would do for `package`'s automatic policy (`policy`, saved, or None for a
    new one), with the settings as the form has them now."""
    policy = policy if policy is not None else AssignmentPolicy(access_package=package)
    preview = RulePreview(rule=rule, is_saved=policy.pk is not None, assigns=assigns,
                          removes=removes, grace_period=grace_period or timedelta(0))
    tree, preview.error, preview.column = rule_tree(rule)
    if tree is None:
        return preview
    matched = matching_people(policy, tree)
    holds = Exists(Assignment.objects.filter(target_id=OuterRef("pk"), access_package=package,
                                             state__in=ASSIGNMENT_ACTIVE))
    counts = matched.annotate(holds=holds).aggregate(
        matched=Count("pk"), gaining=Count("pk", filter=Q(holds=False)))
    preview.matched = counts["matched"]
    preview.people = [Person(_name(name, email), email, department)
                      for name, email, department in matched.order_by(
                          "display_name", "email").values_list(
                          "display_name", "email", "department")[:PEOPLE_SHOWN]]
    preview.gaining = counts["gaining"] if assigns else 0
    if not preview.is_saved:
        return preview
    if preview.gaining:
        preview.gaining_names = [_name(name, email) for name, email in matched.exclude(
            holds).order_by("display_name", "email").values_list(
            "display_name", "email")[:NAMES_SHOWN]]
    mine = _losing(policy, tree)
    counts = mine.aggregate(
        losing=Count("pk", filter=Q(in_rule=False, rule_removal_at__isnull=True)),
        already_leaving=Count("pk", filter=Q(in_rule=False, rule_removal_at__isnull=False)),
        coming_back=Count("pk", filter=Q(in_rule=True, rule_removal_at__isnull=False)))
    preview.coming_back = counts["coming_back"]
    preview.already_leaving = counts["already_leaving"]
    if removes:
        preview.losing = counts["losing"]
        preview.losing_names = [_name(name, email) for name, email in mine.filter(
            in_rule=False, rule_removal_at__isnull=True).order_by(
            "target__display_name", "target__email").values_list(
            "target__display_name", "target__email")[:NAMES_SHOWN]] if preview.losing else []
    return preview


__all__ = ["NAMES_SHOWN", "PEOPLE_SHOWN", "Person", "RulePreview", "removal_count",
           "rule_preview", "rule_tree"]
