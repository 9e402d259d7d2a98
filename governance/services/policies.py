"""Assignment policies: who may request a package, how it is approved, how long it lasts,
and the questions requestors answer.

`policy_save` writes a policy with its whole approval configuration (ApprovalStageSetting and
ApproverSet rows) in one transaction, after checking all of it. Each refusal names the field
it concerns as the admin's form names it; a stage's fields are "stage<N>_<name>" (e.g.
"stage2_deadline_days"). That the requestor never approves their own request is enforced
when a stage starts and when a decision is made (governance.services.approvals).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import isodate
from django.conf import settings
from django.db import transaction
from django.utils.formats import date_format

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    REQUEST_OPEN,
    AllowedTargetScope,
    ApproverKind,
    ConnectedOrganizationState,
    ExpirationType,
    QuestionKind,
    RequestState,
    SubjectSetType,
)
from governance.models import (
    AccessPackage,
    ApprovalStageSetting,
    ApproverSet,
    AssignmentPolicy,
    ConnectedOrganization,
    Group,
    Question,
    User,
)
from governance.models.review_settings import review_settings_from_graph
from governance.selectors.permissions import Capability
from governance.services.audit import audit_record, audit_saved
from governance.services.config_checks import (
    clean_name,
    clean_text,
    max_length,
    name_taken,
    require,
)
from governance.services.errors import InvalidInput, InvalidState
from governance.services.guards import (
    locked_or_not_found,
    locked_under_parent,
    parent_id_or_not_found,
)
from governance.services.packages import package_lock
from governance.services.patterns import pattern_check

Scope = AllowedTargetScope

NAME_MAX = max_length(AssignmentPolicy, "display_name")
QUESTION_MAX = max_length(Question, "text")
PATTERN_MAX = max_length(Question, "regex_pattern")
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
class _Targets:
    users: list[User] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    organizations: list[ConnectedOrganization] = field(default_factory=list)


# Checks


def _check_scope(package: AccessPackage, scope: str, targets: _Targets) -> None:
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


def _check_stages(stages: Sequence[StageSpec], approval_required: bool) -> list[StageSpec]:
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


def _check_expiration(policy: AssignmentPolicy, expiration_type: str,
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


# Snapshots for the audit log


def _stage_snapshot(setting: ApprovalStageSetting) -> dict:
    return {
        "order": setting.order,
        "deadlineDays": setting.duration_before_automatic_denial_days,
        "justificationRequired": setting.is_approver_justification_required,
        "escalateAfterDays": setting.duration_before_escalation_days
        if setting.is_escalation_enabled else None,
        "approvers": sorted(
            ([subject_set.kind, subject_set.subject_type,
              subject_set.user.email if subject_set.user else None, subject_set.group_id,
              subject_set.manager_level]
             for subject_set in setting.approver_sets.select_related("user")),
            key=lambda row: [str(value) for value in row]),
    }


def _snapshot(policy: AssignmentPolicy) -> dict:
    duration = policy.expiration_duration
    return {
        "accessPackage": policy.access_package_id,
        "displayName": policy.display_name, "description": policy.description,
        "allowedTargetScope": policy.allowed_target_scope,
        "specificUsers": sorted(policy.specific_users.values_list("email", flat=True)),
        "specificGroups": sorted(policy.specific_groups.values_list("pk", flat=True)),
        "specificConnectedOrganizations": sorted(
            policy.specific_connected_organizations.values_list("pk", flat=True)),
        "enableSelfAdd": policy.enable_self_add,
        "enableSelfUpdate": policy.enable_self_update,
        "enableSelfRemove": policy.enable_self_remove,
        "allowCustomSchedule": policy.allow_custom_schedule,
        "enableOnBehalfOfDirectReports": policy.enable_on_behalf_of_direct_reports,
        "isApprovalRequiredForAdd": policy.is_approval_required_for_add,
        "isApprovalRequiredForUpdate": policy.is_approval_required_for_update,
        "isRequestorJustificationRequired": policy.is_requestor_justification_required,
        "expirationType": policy.expiration_type,
        "expirationEndAt": policy.expiration_end_at and policy.expiration_end_at.isoformat(),
        "expirationDuration": duration and isodate.duration_isoformat(duration),
        "reviewSettings": policy.review_settings,
        "sendAssignmentEmails": policy.send_assignment_emails,
        "stages": [_stage_snapshot(stage) for stage in policy.stages.order_by("order")],
    }


# Writing


def _approver_rows(setting: ApprovalStageSetting, spec: StageSpec) -> list[ApproverSet]:
    def single(kind, people):
        return [ApproverSet(stage=setting, kind=kind, subject_type=SubjectSetType.SINGLE_USER,
                            user=person) for person in dict.fromkeys(people)]

    rows = single(ApproverKind.PRIMARY, spec.approvers)
    if spec.approver_group is not None:
        rows.append(ApproverSet(stage=setting, kind=ApproverKind.PRIMARY,
                                subject_type=SubjectSetType.GROUP_MEMBERS,
                                group=spec.approver_group))
    if spec.dynamic_approver:
        rows.append(ApproverSet(stage=setting, kind=ApproverKind.PRIMARY,
                                subject_type=spec.dynamic_approver,
                                manager_level=spec.manager_level))
    return (rows + single(ApproverKind.FALLBACK, spec.fallback_approvers)
            + single(ApproverKind.ESCALATION, spec.escalation_approvers))


def _approver_key(row: ApproverSet) -> tuple:
    return row.kind, row.subject_type, row.user_id, row.group_id, row.manager_level


def _write_stages(policy: AssignmentPolicy, stages: list[StageSpec]) -> None:
    existing = {setting.order: setting for setting in policy.stages.select_for_update()}
    for order, spec in enumerate(stages, start=1):
        setting = existing.pop(order, None) or ApprovalStageSetting(policy=policy, order=order)
        setting.duration_before_automatic_denial_days = spec.deadline_days
        setting.is_approver_justification_required = spec.justification_required
        setting.is_escalation_enabled = spec.escalate_after_days is not None
        setting.duration_before_escalation_days = spec.escalate_after_days
        setting.save()
        # Rows that stay as they are keep their ids; the others are replaced.
        wanted = {_approver_key(row): row for row in _approver_rows(setting, spec)}
        for row in setting.approver_sets.all():
            if wanted.pop(_approver_key(row), None) is None:
                row.delete()
        ApproverSet.objects.bulk_create(wanted.values())
    for setting in existing.values():
        setting.delete()


def _refuse_stage_count_change(policy: AssignmentPolicy, stages: list[StageSpec]) -> None:
    """Requests waiting for approval have one stage row per stage the policy had: changing the
    number of stages under them would leave stages without settings."""
    if not policy.pk:
        return
    current = policy.stages.count()
    waiting = policy.requests.filter(state=RequestState.PENDING_APPROVAL).count()
    if waiting and len(stages) != current:
        raise InvalidState(f"{waiting} request{'s are' if waiting > 1 else ' is'} waiting for "
                           f"approval in this policy's {current} stage"
                           f"{'s' if current != 1 else ''}; the number of stages can change "
                           "once they are decided. Approvers and deadlines can change now.",
                           code="stagesInUse")


def _policy_for_change(policy_id: int | None, access_package_id: int
                       ) -> tuple[AccessPackage, AssignmentPolicy]:
    if policy_id is None:
        if not access_package_id:
            raise InvalidInput("Choose the access package.", field="access_package",
                               code="packageNotFound")
        package = package_lock(access_package_id)
        return package, AssignmentPolicy(access_package=package)
    current_package = parent_id_or_not_found(AssignmentPolicy, policy_id, "access_package_id",
                                             "This policy does not exist.",
                                             code="policyNotFound")
    if access_package_id and int(access_package_id) != current_package:
        raise InvalidInput("A policy stays with its access package; add a new policy to the "
                           "other package instead.", field="access_package",
                           code="policyCannotMove")
    package = package_lock(current_package)
    return package, AssignmentPolicy.objects.select_for_update().get(pk=policy_id)


def policy_save(*, actor: User, policy_id: int | None = None, access_package_id: int,
                display_name: str, description: str = "",
                allowed_target_scope: str = Scope.NOT_SPECIFIED,
                specific_users: Iterable[User] = (), specific_groups: Iterable[Group] = (),
                specific_connected_organizations: Iterable[ConnectedOrganization] = (),
                enable_self_add: bool = True, enable_self_update: bool = True,
                enable_self_remove: bool = True, allow_custom_schedule: bool = False,
                enable_on_behalf_of_direct_reports: bool = False,
                is_approval_required_for_add: bool = True,
                is_approval_required_for_update: bool = False,
                is_requestor_justification_required: bool = False,
                expiration_type: str = ExpirationType.AFTER_DURATION,
                expiration_end_at: datetime | None = None,
                expiration_duration: timedelta | None = timedelta(days=365),
                review_settings: dict | None = None, send_assignment_emails: bool = True,
                stages: Sequence[StageSpec] = ()) -> AssignmentPolicy:
    """Create (no `policy_id`) or change a policy with all its approval stages.

    :raises NotAllowed: the actor is not an owner or package manager of the catalog.
    :raises InvalidInput: naming the field: a target scope mixing directory users and
        outsiders or missing its targets, 0 or more than 3 stages when approval is required
        (any when it is not), a stage without approvers, a dynamic approver without a
        fallback, a deadline outside 1 to 14 days, an escalation not between 1 day and the
        deadline, an expiry over 3660 days or on a past date; review settings (Graph's
        accessPackageAssignmentReviewSettings) that review_settings_from_graph refuses,
        on the field review_settings with its code. They are stored as read back, or {}
        when reviews are off.
    :raises InvalidState: the number of stages changes under requests waiting for approval.
    """
    with transaction.atomic():
        package, policy = _policy_for_change(policy_id, access_package_id)
        require(actor, package.catalog, Capability.PACKAGES, "change policies")
        name = clean_name(display_name, field="display_name", what="policy",
                          max_length=NAME_MAX)
        if name_taken(package.policies, name, policy.pk):
            raise InvalidInput(f"“{package}” already has a policy named “{name}”; requestors "
                               "choose between policies by name.", field="display_name",
                               code="policyNameTaken")
        targets = _Targets(list(specific_users or ()), list(specific_groups or ()),
                           list(specific_connected_organizations or ()))
        _check_scope(package, allowed_target_scope, targets)
        approval_required = bool(is_approval_required_for_add or is_approval_required_for_update)
        checked = _check_stages(stages, approval_required)
        _check_expiration(policy, expiration_type, expiration_end_at, expiration_duration)
        reviews = review_settings_from_graph(review_settings)
        _refuse_stage_count_change(policy, checked)

        before = _snapshot(policy) if policy.pk else None
        policy.display_name, policy.description = name, clean_text(description)
        policy.allowed_target_scope = allowed_target_scope
        for flag, value in (("enable_self_add", enable_self_add),
                            ("enable_self_update", enable_self_update),
                            ("enable_self_remove", enable_self_remove),
                            ("allow_custom_schedule", allow_custom_schedule),
                            ("enable_on_behalf_of_direct_reports",
                             enable_on_behalf_of_direct_reports),
                            ("is_approval_required_for_add", is_approval_required_for_add),
                            ("is_approval_required_for_update", is_approval_required_for_update),
                            ("is_requestor_justification_required",
                             is_requestor_justification_required),
                            ("send_assignment_emails", send_assignment_emails)):
            setattr(policy, flag, bool(value))
        policy.expiration_type = expiration_type
        policy.expiration_end_at = expiration_end_at \
            if expiration_type == ExpirationType.AFTER_DATETIME else None
        policy.expiration_duration = expiration_duration \
            if expiration_type == ExpirationType.AFTER_DURATION else None
        policy.review_settings = reviews.to_graph() if reviews.is_enabled else {}
        policy.save()
        policy.specific_users.set(targets.users)
        policy.specific_groups.set(targets.groups)
        policy.specific_connected_organizations.set(targets.organizations)
        _write_stages(policy, checked)
        audit_saved(actor=actor, obj=policy, before=before, after=_snapshot(policy),
                    created="policy.created", changed="policy.changed")
    return policy


def _lock_policy(policy_id: int) -> AssignmentPolicy:
    return locked_under_parent(AssignmentPolicy, policy_id, "access_package", package_lock,
                               "This policy does not exist.", code="policyNotFound")


def policy_delete(*, actor: User, policy_id: int) -> None:
    """Delete a policy with its stages and questions, once nothing depends on it.

    :raises InvalidState: requests under it are open, assignments under it are active, or
        its history keeps it.
    """
    with transaction.atomic():
        policy = _lock_policy(policy_id)
        require(actor, policy.access_package.catalog, Capability.PACKAGES, "change policies")
        active = policy.assignments.filter(state__in=ASSIGNMENT_ACTIVE).count()
        if active:
            raise InvalidState(f"{active} {'person holds' if active == 1 else 'people hold'} "
                               f"access under “{policy}”; their access must end first.",
                               code="policyHasAssignments")
        waiting = policy.requests.filter(state__in=REQUEST_OPEN).count()
        if waiting:
            raise InvalidState(f"{waiting} open request{'s' if waiting > 1 else ''} under "
                               f"“{policy}” must be decided or canceled first.",
                               code="policyHasOpenRequests")
        if policy.requests.exists() or policy.assignments.exists():
            raise InvalidState(f"“{policy}” has a history of requests, which keeps it; stop it "
                               "from taking requests instead.", code="policyHasHistory")
        audit_record(actor=actor, action="policy.deleted", obj=policy, before=_snapshot(policy),
                     details={"questions": list(policy.questions.values_list("text",
                                                                             flat=True))})
        policy.delete()


# Questions


def _check_localizations(localizations, field_name: str) -> dict:
    localizations = localizations or {}
    if not isinstance(localizations, dict):
        raise InvalidInput("Give the translations as language and text.", field=field_name,
                           code="invalidLocalizations")
    languages = dict(settings.LANGUAGES)
    cleaned = {}
    for language, text in localizations.items():
        if language not in languages:
            raise InvalidInput(f"“{language}” is not one of the portal's languages "
                               f"({', '.join(languages)}).", field=field_name,
                               code="unknownLanguage")
        text = " ".join(str(text or "").split())
        if not text:
            raise InvalidInput(f"The {languages[language]} text is empty.", field=field_name,
                               code="invalidLocalizations")
        cleaned[language] = text
    return cleaned


def _check_choices(choices) -> list[dict]:
    cleaned, seen = [], set()
    for choice in choices or ():
        if not isinstance(choice, dict):
            raise InvalidInput("Each choice has a value and a text.", field="choices",
                               code="invalidChoice")
        value = str(choice.get("value") or "").strip()
        text = " ".join(str(choice.get("text") or "").split())
        if not value or not text:
            raise InvalidInput("Each choice has a value and a text.", field="choices",
                               code="invalidChoice")
        if value in seen:
            raise InvalidInput(f"Two choices have the value “{value}”; each needs its own.",
                               field="choices", code="duplicateChoice")
        seen.add(value)
        entry = {"value": value, "text": text}
        localizations = _check_localizations(choice.get("localizations"), "choices")
        if localizations:
            entry["localizations"] = localizations
        cleaned.append(entry)
    if not cleaned:
        raise InvalidInput("A multiple-choice question needs choices to choose from.",
                           field="choices", code="choicesRequired")
    return cleaned


def question_check(*, text: str, kind: str = QuestionKind.TEXT, sequence: int = 0,
                   is_required: bool = True, is_answer_editable: bool = False,
                   is_single_line: bool = True, regex_pattern: str = "", choices=(),
                   allows_multiple_selection: bool = False, localizations=None) -> dict:
    """A question's fields as they would be saved, or InvalidInput naming the field.

    Reads nothing: the admin asks it of a question whose policy is not saved yet.
    """
    if kind not in QuestionKind.values:
        raise InvalidInput("Choose a text or a multiple-choice question.", field="kind",
                           code="invalidQuestionKind")
    text = " ".join((text or "").split())
    if not text:
        raise InvalidInput("Write the question the requestor answers.", field="text",
                           code="questionRequired")
    if len(text) > QUESTION_MAX:
        raise InvalidInput(f"A question can have at most {QUESTION_MAX} characters.",
                           field="text", code="questionTooLong")
    try:
        sequence = int(sequence or 0)
    except (TypeError, ValueError):
        raise InvalidInput("The order is a whole number.", field="sequence",
                           code="invalidNumber") from None
    if sequence < 0:
        raise InvalidInput("The order is 0 or more.", field="sequence", code="invalidNumber")
    fields = {"text": text, "kind": kind, "sequence": sequence,
              "is_required": bool(is_required), "is_answer_editable": bool(is_answer_editable),
              "localizations": _check_localizations(localizations, "localizations")}
    pattern = (regex_pattern or "").strip()
    if kind == QuestionKind.CHOICE:
        if pattern:
            raise InvalidInput("A multiple-choice question has no pattern: its answers are the "
                               "choices.", field="regex_pattern", code="patternNotUsed")
        return fields | {"choices": _check_choices(choices), "regex_pattern": "",
                         "is_single_line": True,
                         "allows_multiple_selection": bool(allows_multiple_selection)}
    if choices:
        raise InvalidInput("A text question has no choices; make it a multiple-choice "
                           "question, or clear them.", field="choices", code="choicesNotUsed")
    if len(pattern) > PATTERN_MAX:
        raise InvalidInput(f"A pattern can have at most {PATTERN_MAX} characters.",
                           field="regex_pattern", code="patternTooLong")
    if pattern:
        pattern_check(pattern)
    return fields | {"choices": [], "regex_pattern": pattern,
                     "is_single_line": bool(is_single_line), "allows_multiple_selection": False}


def _question_snapshot(question: Question) -> dict:
    return {"question": question.pk, "text": question.text, "kind": question.kind,
            "sequence": question.sequence, "isRequired": question.is_required,
            "isAnswerEditable": question.is_answer_editable,
            "isSingleLine": question.is_single_line, "regexPattern": question.regex_pattern,
            "choices": question.choices,
            "allowsMultipleSelection": question.allows_multiple_selection,
            "localizations": question.localizations}


def question_save(*, actor: User, policy_id: int, question_id: int | None = None,
                  **fields) -> Question:
    """Add a question to a policy, or change one; `fields` are question_check's."""
    with transaction.atomic():
        policy = _lock_policy(policy_id)
        require(actor, policy.access_package.catalog, Capability.PACKAGES, "change policies")
        cleaned = question_check(**fields)
        if question_id is None:
            question, before = Question(policy=policy), None
        else:
            question = locked_or_not_found(policy.questions, question_id,
                                           "This question does not exist.",
                                           code="questionNotFound")
            before = _question_snapshot(question)
        for name, value in cleaned.items():
            setattr(question, name, value)
        question.save()
        audit_saved(actor=actor, obj=policy, before=before, after=_question_snapshot(question),
                    created="policy.questionAdded", changed="policy.questionChanged")
    return question


def question_delete(*, actor: User, question_id: int) -> None:
    """Remove a question that no request has answered yet."""
    with transaction.atomic():
        question = locked_under_parent(Question, question_id, "policy", _lock_policy,
                                       "This question does not exist.",
                                       code="questionNotFound")
        policy = question.policy
        require(actor, policy.access_package.catalog, Capability.PACKAGES, "change policies")
        answered = question.answers.count()
        if answered:
            raise InvalidState(f"“{question}” has been answered in {answered} "
                               f"request{'s' if answered > 1 else ''}, which keep it; make it "
                               "optional instead.", code="questionAnswered")
        audit_record(actor=actor, action="policy.questionRemoved", obj=policy,
                     before=_question_snapshot(question))
        question.delete()
