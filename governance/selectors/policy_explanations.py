""""Which policy, and why not?": for a person and a package, whether each policy of the
package applies to them and, in plain words, why not.

Whether a policy applies is decided by the rules of governance.selectors.packages (the same
conditions `policies_in_scope_for`, `packages_available` and `request_options` use, asked here
as annotations so every policy is answered in one query); this module only words the answer.
"""

from dataclasses import dataclass, field

from django.db.models import BooleanField, ExpressionWrapper, Prefetch, Q
from django.utils.formats import date_format

from governance.choices import AccountState, AllowedTargetScope, ConnectedOrganizationState
from governance.models import AccessPackage, AssignmentPolicy, ConnectedOrganization, User
from governance.rules import RuleError, parse, unmet
from governance.selectors.packages import (
    active_assignment_for,
    availability_conditions,
    best_ranked,
    ended_condition,
    in_scope_condition,
    open_request_for,
    separation_of_duties_conflict,
)

Scope = AllowedTargetScope


@dataclass(frozen=True)
class PolicyExplanation:
    policy: AssignmentPolicy
    reasons: list[str] = field(default_factory=list)

    @property
    def applies(self) -> bool:
        """Requestable, or for an automatic policy: it assigns the person."""
        return not self.reasons


@dataclass(frozen=True)
class PackageExplanation:
    person: User
    package: AccessPackage
    reasons: list[str]
    policies: list[PolicyExplanation]

    @property
    def can_request(self) -> bool:
        """Nothing about the package stops them, and some policy they may request under
        applies (an automatic policy assigns; no one requests under it)."""
        return not self.reasons and any(item.applies and not item.policy.is_automatic
                                        for item in self.policies)


def _flag(condition: Q) -> ExpressionWrapper:
    return ExpressionWrapper(condition, output_field=BooleanField())


def _day(moment) -> str:
    return date_format(moment, "j F Y")


def _names(organizations) -> str:
    names = [str(organization) for organization in organizations]
    if len(names) <= 1:
        return "".join(names) or "no connected organisation"
    return ", ".join(names[:-1]) + " or " + names[-1]


def _scope_reason(person: User, policy: AssignmentPolicy) -> str:
    """Why `policy`'s scope leaves `person` out (the database has said it does)."""
    scope = policy.allowed_target_scope
    organization = person.connected_organization if person.is_guest else None
    if scope == Scope.ALL_MEMBER_USERS:
        return f"This policy is for members; {person} is a guest."
    if scope == Scope.ALL_EXTERNAL_USERS:
        return f"This policy is for external users; {person} is a member."
    if scope == Scope.SPECIFIC_DIRECTORY_USERS:
        return f"This policy is for specific people and groups; {person} is not one of them."
    if scope == Scope.ALL_CONFIGURED_CONNECTED_ORG_USERS:
        if not person.is_guest:
            return (f"This policy is for users of configured connected organisations; "
                    f"{person} is a member.")
        if organization is None:
            return (f"This policy is for users of configured connected organisations; "
                    f"{person} has no connected organisation.")
        if organization.state == ConnectedOrganizationState.PROPOSED:
            return (f"This policy is for configured connected organisations; {organization} "
                    "is only proposed.")
    if scope == Scope.SPECIFIC_CONNECTED_ORG_USERS:
        named = _names(policy.specific_connected_organizations.all())
        if not person.is_guest:
            return f"This policy is for users of {named}; {person} is a member."
        if organization is None:
            return (f"This policy is for users of {named}; {person} has no connected "
                    "organisation.")
        return f"This policy is for users of {named}; {person}'s organisation is {organization}."
    if scope == Scope.NOT_SPECIFIED:
        return "Administrators assign this policy directly; no one requests under it."
    return f"This policy's scope ({policy.get_allowed_target_scope_display()}) leaves out {person}."


def _account_reason(person: User) -> str | None:
    if person.account_state == AccountState.DELETED:
        return f"{person}'s account was deleted."
    if person.account_state == AccountState.BLOCKED:
        return f"{person}'s account is blocked: they cannot sign in to request access."
    if not person.is_active:
        return f"{person}'s account is deactivated: they cannot sign in to request access."
    return None


def _package_reasons(person: User, package: AccessPackage) -> list[str]:
    conditions = availability_conditions(person)
    flags = AccessPackage.objects.filter(pk=package.pk).annotate(
        **{f"meets_{name}": _flag(condition) for name, condition in conditions.items()}
    ).values(*(f"meets_{name}" for name in conditions)).get()
    catalog = package.catalog
    reasons = []
    if not flags["meets_published"]:
        reasons.append(f"The catalog “{catalog}” is not published: none of its packages can "
                       "be requested.")
    if "meets_external" in flags and not flags["meets_external"]:
        reasons.append(f"The catalog “{catalog}” is not visible to external users; {person} "
                       "is a guest.")
    account = _account_reason(person)
    if account:
        reasons.append(account)
    held = active_assignment_for(person, package)
    if held:
        reasons.append(f"{person} already holds “{package}”: it can be extended, not "
                       "requested again.")
    pending = open_request_for(person, package)
    if pending:
        reasons.append(f"{person} already has an open request for “{package}” (submitted "
                       f"{_day(pending.created_at)}).")
    conflict = separation_of_duties_conflict(person, package)
    if conflict:
        reasons.append(conflict)
    return reasons


def _automatic_reasons(person: User, policy: AssignmentPolicy) -> list[str]:
    """Why the automatic `policy` does not assign `person`: the rule's comparisons that
    failed, with their values ([] when it assigns them)."""
    try:
        failed = unmet(parse(policy.membership_rule), person)
    except RuleError as error:
        return [f"Its membership rule no longer reads ({error.message}); it assigns no one."]
    reasons = [f"Its membership rule does not match {person}: {reason}." for reason in failed]
    if not failed and not policy.request_access_for_allowed_targets:
        reasons.append("It assigns no one new: “assign people who match” is off.")
    return reasons


def explain_policies(person: User, package: AccessPackage) -> PackageExplanation:
    """For `person` and `package`: what stops the package as a whole, and for each policy
    whether it applies and why not. A bounded number of queries, however many policies."""
    person = User.objects.select_related("connected_organization").get(pk=person.pk)
    package = AccessPackage.objects.select_related("catalog").get(pk=package.pk)
    policies = list(
        AssignmentPolicy.objects.filter(access_package=package)
        .annotate(in_scope=_flag(in_scope_condition(person)), ended=_flag(ended_condition()))
        .prefetch_related(Prefetch("specific_connected_organizations",
                                   queryset=ConnectedOrganization.objects.order_by(
                                       "display_name")))
        .order_by("display_name", "pk"))
    reasons_of = {}
    for policy in policies:
        if policy.is_automatic:
            reasons_of[policy.pk] = _automatic_reasons(person, policy)
            continue
        reasons = []
        if not policy.in_scope:
            reasons.append(_scope_reason(person, policy))
        if policy.ended:
            reasons.append(f"Requests under this policy ended on "
                           f"{_day(policy.expiration_end_at)}.")
        if not policy.enable_self_add:
            reasons.append("People cannot request it themselves: "
                           + ("their manager may request it for them."
                              if policy.enable_on_behalf_of_direct_reports
                              else "administrators assign it."))
        reasons_of[policy.pk] = reasons
    usable = [policy for policy in policies
              if not reasons_of[policy.pk] and not policy.is_automatic]
    first = best_ranked(usable)
    for policy in usable:
        if policy not in first:
            names = ", ".join(f"“{other}”" for other in first)
            reasons_of[policy.pk].append(f"A more specific policy of this package ({names}) "
                                         f"applies to {person} first.")
    return PackageExplanation(
        person=person, package=package, reasons=_package_reasons(person, package),
        policies=[PolicyExplanation(policy, reasons_of[policy.pk]) for policy in policies])
