"""The checks of an assignment policy before it is written: who may be targeted, its
approval stages (StageSpec), its expiration. Each refusal names the field it concerns as
the admin's form names it (a stage's fields: "stage<N>_<name>")."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.formats import date_format

from governance import clock
from governance.choices import (
    AllowedTargetScope,
    ApproverKind,
    ConnectedOrganizationState,
    ExpirationType,
    SubjectSetType,
)
from governance.models import (
    AccessPackage,
    ApprovalStageSetting,
    AssignmentPolicy,
    ConnectedOrganization,
    Group,
    User,
)
from governance.services.config_checks import (
    max_length,
)
from governance.services.errors import InvalidInput

Scope = AllowedTargetScope

NAME_MAX = max_length(AssignmentPolicy, "display_name")
MAX_STAGES = 3
MIN_DEADLINE_DAYS, MAX_DEADLINE_DAYS = 1, 14
MAX_DURATION = timedelta(days=3660)
INTERNAL_SCOPES = frozenset({Scope.SPECIFIC_DIRECTORY_USERS, Scope.ALL_MEMBER_USERS,
                             Scope.ALL_DIRECTORY_USERS})
EXTERNAL_SCOPES = frozenset({Scope.SPECIFIC_CONNECTED_ORG_USERS,
                             Scope.ALL_CONFIGURED_CONNECTED_ORG_USERS, Scope.ALL_EXTERNAL_USERS})
# Approvers found from the request (the requestor's manager, sponsors): they may not exist.
DYNAMIC_APPROVERS = (SubjectSetType.REQUESTOR_MANAGER, SubjectSetType.INTERNAL_SPONSORS,
                     SubjectSetType.EXTERNAL_SPONSORS, SubjectSetType.TARGET_USER_SPONSORS)


@dataclass
class StageSpec:
    """One approval stage as the admin's form (or a program) describes it."""

    approvers: Sequence[User] = ()
    approver_group: Group | None = None
    dynamic_approver: str = ""  # one of DYNAMIC_APPROVERS, or ""
    manager_level: int = 1      # for the requestor's manager: 1 their manager, 2 the next one
    fallback_approvers: Sequence[User] = ()
    escalation_approvers: Sequence[User] = ()
    escalate_after_days: int | None = None
    deadline_days: int = 14
    justification_required: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.approvers or self.approver_group or self.dynamic_approver
                    or self.fallback_approvers or self.escalation_approvers)

    @classmethod
    def of(cls, setting: ApprovalStageSetting) -> "StageSpec":
        """The spec of a saved stage, to show it in a form or save it again."""
        spec = cls(deadline_days=setting.duration_before_automatic_denial_days,
                   justification_required=setting.is_approver_justification_required,
                   escalate_after_days=setting.duration_before_escalation_days
                   if setting.is_escalation_enabled else None)
        people = {kind: [] for kind in ApproverKind.values}
        for subject_set in setting.approver_sets.select_related("user", "group").order_by("id"):
            if subject_set.subject_type == SubjectSetType.SINGLE_USER:
                people[subject_set.kind].append(subject_set.user)
            elif subject_set.subject_type == SubjectSetType.GROUP_MEMBERS:
                spec.approver_group = subject_set.group
            else:
                spec.dynamic_approver = subject_set.subject_type
                spec.manager_level = subject_set.manager_level
        spec.approvers = people[ApproverKind.PRIMARY]
        spec.fallback_approvers = people[ApproverKind.FALLBACK]
        spec.escalation_approvers = people[ApproverKind.ESCALATION]
        return spec


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
    prefix = f"stage{order}_"
    deadline = _whole_days(spec.deadline_days, prefix + "deadline_days",
                           f"Stage {order}: give the deadline in whole days.")
    if not MIN_DEADLINE_DAYS <= deadline <= MAX_DEADLINE_DAYS:
        raise InvalidInput(f"Stage {order}: the deadline is {MIN_DEADLINE_DAYS} to "
                           f"{MAX_DEADLINE_DAYS} days; after it the request is denied "
                           "automatically.", field=prefix + "deadline_days",
                           code="deadlineOutOfRange")
    dynamic = spec.dynamic_approver or ""
    if dynamic and dynamic not in DYNAMIC_APPROVERS:
        raise InvalidInput(f"Stage {order}: choose one of the dynamic approvers offered.",
                           field=prefix + "dynamic_approver", code="invalidApprover")
    level = spec.manager_level if dynamic == SubjectSetType.REQUESTOR_MANAGER else 1
    if level not in (1, 2):
        raise InvalidInput(f"Stage {order}: the manager is the requestor's own (1) or the "
                           "next one up (2).", field=prefix + "dynamic_approver",
                           code="invalidManagerLevel")
    approvers = _check_people(spec.approvers, prefix + "approvers", order)
    fallback = _check_people(spec.fallback_approvers, prefix + "fallback_approvers", order)
    escalation = _check_people(spec.escalation_approvers, prefix + "escalation_approvers",
                               order)
    if not (approvers or spec.approver_group or dynamic):
        raise InvalidInput(f"Stage {order} has no approver: name people, a group, or a "
                           "dynamic approver.", field=prefix + "approvers",
                           code="approverRequired")
    if dynamic and not fallback:
        label = SubjectSetType(dynamic).label.lower()
        raise InvalidInput(f"Stage {order}: {label} do not exist for every request; name a "
                           "fallback approver who decides then."
                           if dynamic != SubjectSetType.REQUESTOR_MANAGER else
                           f"Stage {order}: not every requestor has a manager; name a fallback "
                           "approver who decides then.",
                           field=prefix + "fallback_approvers", code="fallbackRequired")
    after = spec.escalate_after_days
    if after in ("", None) and escalation:
        raise InvalidInput(f"Stage {order}: say after how many days it goes to the escalation "
                           "approvers.", field=prefix + "escalate_after_days",
                           code="escalationDaysRequired")
    if after not in ("", None):
        after = _whole_days(after, prefix + "escalate_after_days",
                            f"Stage {order}: give the escalation time in whole days.")
        if after < 1:
            raise InvalidInput(f"Stage {order}: escalation comes after 1 day at the soonest.",
                               field=prefix + "escalate_after_days", code="escalationTooSoon")
        if after >= deadline:
            raise InvalidInput(f"Stage {order} is denied automatically after {deadline} days, "
                               f"so it must escalate earlier than that, not after {after}.",
                               field=prefix + "escalate_after_days",
                               code="escalationAfterDeadline")
        if not escalation:
            raise InvalidInput(f"Stage {order}: name the escalation approvers it goes to after "
                               f"{after} days.", field=prefix + "escalation_approvers",
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
                           field="stage1_approvers", code="stageRequired")
    if len(stages) > MAX_STAGES:
        raise InvalidInput(f"A policy has at most {MAX_STAGES} approval stages.",
                           field=f"stage{MAX_STAGES}_approvers", code="tooManyStages")
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
