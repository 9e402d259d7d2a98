"""The checks of an assignment policy before it is written: who may be targeted, its
approval stages, its expiration. Each refusal names the PolicySpec field it concerns (a
stage's: "stages[<index>].<name>", governance.services.policy_spec.stage_field)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.formats import date_format

from governance import clock
from governance.choices import (
    AllowedTargetScope,
    ConnectedOrganizationState,
    ExpirationType,
    SubjectSetType,
)
from governance.models import (
    AccessPackage,
    AssignmentPolicy,
    ConnectedOrganization,
    Group,
    User,
)
from governance.services.errors import InvalidInput
from governance.services.internal.config_checks import (
    max_length,
)
from governance.services.policy_spec import (
    DYNAMIC_APPROVERS,
    MAX_STAGES,
    StageSpec,
    stage_field,
)

Scope = AllowedTargetScope

NAME_MAX = max_length(AssignmentPolicy, "display_name")
MIN_DEADLINE_DAYS, MAX_DEADLINE_DAYS = 1, 14
MAX_DURATION = timedelta(days=3660)
INTERNAL_SCOPES = frozenset({Scope.SPECIFIC_DIRECTORY_USERS, Scope.ALL_MEMBER_USERS,
                             Scope.ALL_DIRECTORY_USERS})
EXTERNAL_SCOPES = frozenset({Scope.SPECIFIC_CONNECTED_ORG_USERS,
                             Scope.ALL_CONFIGURED_CONNECTED_ORG_USERS, Scope.ALL_EXTERNAL_USERS})


@dataclass
class Targets:
    users: list[User] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    organizations: list[ConnectedOrganization] = field(default_factory=list)


# Checks


def check_scope(package: AccessPackage, scope: str, targets: Targets) -> None:
    """Behaviour 1: one policy is for directory users or for outsiders, never both."""
    if scope not in Scope.values:
        raise InvalidInput("Choose who can request access.", field="allowed_target_scope",
                           code="invalidScope")
    label = Scope(scope).label
    if scope in EXTERNAL_SCOPES and not package.catalog.is_externally_visible:
        raise InvalidInput(f"The catalog “{package.catalog}” is not visible to external users, "
                           "so its policies cannot be for users outside the directory.",
                           field="allowed_target_scope", code="catalogNotExternal")
    if scope == Scope.SPECIFIC_DIRECTORY_USERS:
        if targets.organizations:
            raise InvalidInput("A policy for users in the directory cannot also name connected "
                               "organizations: give their users a second policy.",
                               field="specific_connected_organizations", code="mixedScope")
        if not targets.users and not targets.groups:
            raise InvalidInput("Name at least one user or group who can request.",
                               field="specific_users", code="targetsRequired")
        return
    if scope == Scope.SPECIFIC_CONNECTED_ORG_USERS:
        for name, given in (("specific_users", targets.users),
                            ("specific_groups", targets.groups)):
            if given:
                raise InvalidInput("A policy for users of connected organizations cannot also "
                                   "name users or groups of the directory: give them a second "
                                   "policy.", field=name, code="mixedScope")
        if not targets.organizations:
            raise InvalidInput("Name at least one connected organization whose users can "
                               "request.", field="specific_connected_organizations",
                               code="targetsRequired")
        proposed = [org for org in targets.organizations
                    if org.state != ConnectedOrganizationState.CONFIGURED]
        if proposed:
            raise InvalidInput(f"“{proposed[0]}” is only a proposed connected organization; "
                               "configure it before naming it in a policy.",
                               field="specific_connected_organizations",
                               code="organizationNotConfigured")
        return
    for name, given, what in (("specific_users", targets.users, "users"),
                              ("specific_groups", targets.groups, "groups"),
                              ("specific_connected_organizations", targets.organizations,
                               "connected organizations")):
        if given:
            raise InvalidInput(f"“{label}” does not use specific {what}: clear them, or choose "
                               "a scope that names them.", field=name, code="targetsNotUsed")


def _check_people(people: Iterable[User], field_name: str, stage: int) -> list[User]:
    people = list(people or ())
    for person in people:
        if not person.is_active:
            raise InvalidInput(f"Stage {stage}: {person}’s account is disabled, so they cannot "
                               "approve.", field=field_name, code="approverInactive")
    return people


def _whole_days(value, field_name: str, sentence: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidInput(sentence, field=field_name, code="invalidNumber") from None


def _check_stage(order: int, spec: StageSpec) -> StageSpec:
    def at(name: str) -> str:
        return stage_field(order - 1, name)

    deadline = _whole_days(spec.deadline_days, at("deadline_days"),
                           f"Stage {order}: give the deadline in whole days.")
    if not MIN_DEADLINE_DAYS <= deadline <= MAX_DEADLINE_DAYS:
        raise InvalidInput(f"Stage {order}: the deadline is {MIN_DEADLINE_DAYS} to "
                           f"{MAX_DEADLINE_DAYS} days; after it the request is denied "
                           "automatically.", field=at("deadline_days"),
                           code="deadlineOutOfRange")
    dynamic = spec.dynamic_approver or ""
    if dynamic and dynamic not in DYNAMIC_APPROVERS:
        raise InvalidInput(f"Stage {order}: choose one of the dynamic approvers offered.",
                           field=at("dynamic_approver"), code="invalidApprover")
    level = spec.manager_level if dynamic == SubjectSetType.REQUESTOR_MANAGER else 1
    if level not in (1, 2):
        raise InvalidInput(f"Stage {order}: the manager is the requestor's own (1) or the "
                           "next one up (2).", field=at("dynamic_approver"),
                           code="invalidManagerLevel")
    approvers = _check_people(spec.approvers, at("approvers"), order)
    fallback = _check_people(spec.fallback_approvers, at("fallback_approvers"), order)
    escalation = _check_people(spec.escalation_approvers, at("escalation_approvers"),
                               order)
    if not (approvers or spec.approver_group or dynamic):
        raise InvalidInput(f"Stage {order} has no approver: name people, a group, or a "
                           "dynamic approver.", field=at("approvers"),
                           code="approverRequired")
    if dynamic and not fallback:
        label = SubjectSetType(dynamic).label.lower()
        raise InvalidInput(f"Stage {order}: {label} do not exist for every request; name a "
                           "fallback approver who decides then."
                           if dynamic != SubjectSetType.REQUESTOR_MANAGER else
                           f"Stage {order}: not every requestor has a manager; name a fallback "
                           "approver who decides then.",
                           field=at("fallback_approvers"), code="fallbackRequired")
    after = spec.escalate_after_days
    if after in ("", None) and escalation:
        raise InvalidInput(f"Stage {order}: say after how many days it goes to the escalation "
                           "approvers.", field=at("escalate_after_days"),
                           code="escalationDaysRequired")
    if after not in ("", None):
        after = _whole_days(after, at("escalate_after_days"),
                            f"Stage {order}: give the escalation time in whole days.")
        if after < 1:
            raise InvalidInput(f"Stage {order}: escalation comes after 1 day at the soonest.",
                               field=at("escalate_after_days"), code="escalationTooSoon")
        if after >= deadline:
            raise InvalidInput(f"Stage {order} is denied automatically after {deadline} days, "
                               f"so it must escalate earlier than that, not after {after}.",
                               field=at("escalate_after_days"),
                               code="escalationAfterDeadline")
        if not escalation:
            raise InvalidInput(f"Stage {order}: name the escalation approvers it goes to after "
                               f"{after} days.", field=at("escalation_approvers"),
                               code="escalationApproversRequired")
    else:
        after = None
    return StageSpec(approvers=approvers, approver_group=spec.approver_group,
                     dynamic_approver=dynamic, manager_level=level,
                     fallback_approvers=fallback, escalation_approvers=escalation,
                     escalate_after_days=after, deadline_days=deadline,
                     justification_required=bool(spec.justification_required))


def check_stages(stages: Sequence[StageSpec], approval_required: bool) -> list[StageSpec]:
    stages = list(stages or ())
    if not approval_required:
        if any(not stage.is_empty for stage in stages):
            raise InvalidInput("Approval is not required, so the policy has no stages: clear "
                               "the approvers, or require approval.",
                               field="is_approval_required_for_add", code="stagesNotUsed")
        return []
    if not stages:
        raise InvalidInput("Approval is required: name the approvers of stage 1.",
                           field=stage_field(0, "approvers"), code="stageRequired")
    if len(stages) > MAX_STAGES:
        raise InvalidInput(f"A policy has at most {MAX_STAGES} approval stages.",
                           field=stage_field(MAX_STAGES - 1, "approvers"), code="tooManyStages")
    return [_check_stage(order, spec) for order, spec in enumerate(stages, start=1)]


def check_expiration(policy: AssignmentPolicy, expiration_type: str,
                      end_at: datetime | None, duration: timedelta | None) -> None:
    if expiration_type not in ExpirationType.values:
        raise InvalidInput("Choose when access ends.", field="expiration_type",
                           code="invalidExpiration")
    if expiration_type == ExpirationType.AFTER_DURATION:
        if duration is None or duration <= timedelta(0):
            raise InvalidInput("Say how long access lasts (at least an hour), or choose "
                               "another way for it to end.", field="expiration_duration",
                               code="durationRequired")
        if duration > MAX_DURATION:
            raise InvalidInput(f"Access can last at most {MAX_DURATION.days} days; choose "
                               "“Never” for access without an end.",
                               field="expiration_duration", code="durationTooLong")
    if expiration_type == ExpirationType.AFTER_DATETIME:
        if end_at is None:
            raise InvalidInput("Choose the date on which access ends.",
                               field="expiration_end_at", code="endDateRequired")
        unchanged = (policy.pk and policy.expiration_type == ExpirationType.AFTER_DATETIME
                     and policy.expiration_end_at == end_at)
        if not unchanged and end_at <= clock.now():
            raise InvalidInput(f"{date_format(end_at, 'DATETIME_FORMAT')} has passed; choose "
                               "an end date in the future.", field="expiration_end_at",
                               code="endDateInPast")
