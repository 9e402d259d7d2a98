"""Assignment policies: who may request a package, how it is approved, how long it lasts.
The questions requestors answer: governance.services.questions; the checks of a policy's
fields and stages: governance.services.internal.policy_checks.

`policy_save` writes a policy with its whole approval configuration (ApprovalStageSetting
and ApproverSet rows) from a PolicySpec, in one transaction, after checking all of it;
`policy_update` changes part of it under the same lock. Each refusal names the spec's field it
concerns (a stage's: "stages[1].deadline_days", governance.services.policy_spec). That the
requestor never approves their own request is enforced when a stage starts and when a decision
is made (governance.services.approvals).
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import isodate
from django.db import transaction

from governance.choices import (
    ASSIGNMENT_ACTIVE,
    REQUEST_OPEN,
    AllowedTargetScope,
    ApproverKind,
    ExpirationType,
    RequestState,
    SubjectSetType,
)
from governance.models import (
    AccessPackage,
    ApprovalStageSetting,
    ApproverSet,
    AssignmentPolicy,
    User,
)
from governance.models.review_settings import review_settings_from_graph
from governance.selectors.permissions import Capability
from governance.services.audit import audit_record, audit_saved
from governance.services.automatic import rule_check, rule_evaluation_queue
from governance.services.errors import InvalidInput, InvalidState
from governance.services.internal.config_checks import (
    clean_name,
    clean_text,
    name_taken,
    require,
)
from governance.services.internal.guards import (
    locked_under_parent,
    parent_id_or_not_found,
)
from governance.services.internal.policy_checks import (
    NAME_MAX,
    Targets,
    check_expiration,
    check_scope,
    check_stages,
)
from governance.services.packages import package_lock
from governance.services.policy_spec import PolicySpec, StageSpec

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
        **({"automatic": {
            "membershipRule": policy.membership_rule,
            "description": policy.membership_rule_description,
            "requestAccessForAllowedTargets": policy.request_access_for_allowed_targets,
            "removeAccessWhenTargetLeavesAllowedTargets":
                policy.remove_access_when_target_leaves,
            "gracePeriodBeforeAccessRemoval": isodate.duration_isoformat(
                policy.grace_period_before_access_removal or timedelta(0))}}
           if policy.is_automatic else {}),
    }


AUTOMATIC_FIELDS = ("membership_rule", "request_access_for_allowed_targets",
                    "remove_access_when_target_leaves", "grace_period_before_access_removal")
GRACE_MAX = timedelta(days=3660)


def _automatic_spec(package: AccessPackage, policy: AssignmentPolicy,
                    spec: PolicySpec) -> PolicySpec:
    """An automatic policy's spec as it is kept: no requestor settings, no approval, its rule
    checked. Refuses stages or specific targets, a second automatic policy on the package and
    a grace period outside 0 to 3660 days."""
    if any(not stage.is_empty for stage in spec.stages or ()):
        raise InvalidInput("An automatic policy assigns without approval: remove its approval "
                           "stages.", field="stages", code="automaticPolicyStages")
    if spec.specific_users or spec.specific_groups or spec.specific_connected_organizations:
        raise InvalidInput("An automatic policy's people are those its membership rule "
                           "matches: remove the specific users and groups.",
                           field="specific_users", code="automaticPolicyTargets")
    rule_check(spec.membership_rule)
    if len(spec.membership_rule_description or "") > 500:
        raise InvalidInput("The rule's description has at most 500 characters.",
                           field="membership_rule_description", code="invalidValue")
    other = package.policies.filter(is_automatic=True).exclude(pk=policy.pk).first()
    if other is not None:
        raise InvalidInput(f"“{package}” already has an automatic policy, “{other}”; a package "
                           "has at most one. Change its rule instead.",
                           field="membership_rule", code="automaticPolicyExists")
    grace = spec.grace_period_before_access_removal or timedelta(0)
    if not timedelta(0) <= grace <= GRACE_MAX:
        raise InvalidInput("The grace period before access is removed is between 0 and 3660 "
                           "days.", field="grace_period_before_access_removal",
                           code="invalidGracePeriod")
    return replace(spec, allowed_target_scope=AllowedTargetScope.SPECIFIC_DIRECTORY_USERS,
                   stages=(), grace_period_before_access_removal=grace,
                   membership_rule=spec.membership_rule.strip(),
                   **{flag: False for flag in PolicySpec.FLAGS if flag != "send_assignment_emails"})


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


def _policy_for_change(policy_id: int | None, access_package_id: int | None
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


def policy_save(*, actor: User, policy_id: int | None = None, access_package_id: int | None,
                spec: PolicySpec) -> AssignmentPolicy:
    """Create (no `policy_id`, under `access_package_id`) or change a policy to `spec`.

    :raises NotAllowed: the actor is not an owner or package manager of the catalog.
    :raises InvalidInput: naming the spec's field: a target scope mixing directory users and
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
        return _write(actor, package, policy, spec)


def policy_update(*, actor: User, policy_id: int,
                  change: Callable[[PolicySpec], PolicySpec]) -> AssignmentPolicy:
    """Change what `change` changes of the policy's current spec, read under the policy's lock,
    so that two updates of different parts both hold. Refusals as policy_save's."""
    with transaction.atomic():
        package, policy = _policy_for_change(policy_id, None)
        return _write(actor, package, policy, change(PolicySpec.of(policy)))


def _write(actor: User, package: AccessPackage, policy: AssignmentPolicy,
           spec: PolicySpec) -> AssignmentPolicy:
    require(actor, package.catalog, Capability.PACKAGES, "change policies")
    if policy.pk and policy.is_automatic != bool(spec.is_automatic):
        raise InvalidInput("A policy stays automatic, or requested, as it was created; add a "
                           "new policy instead.", field="is_automatic", code="policyKindFixed")
    if spec.is_automatic:
        spec = _automatic_spec(package, policy, spec)
    name = clean_name(spec.display_name, field="display_name", what="policy",
                      max_length=NAME_MAX)
    if name_taken(package.policies, name, policy.pk):
        raise InvalidInput(f"“{package}” already has a policy named “{name}”; requestors "
                           "choose between policies by name.", field="display_name",
                           code="policyNameTaken")
    targets = Targets(list(spec.specific_users or ()), list(spec.specific_groups or ()),
                      list(spec.specific_connected_organizations or ()))
    if not spec.is_automatic:
        check_scope(package, spec.allowed_target_scope, targets)
    approval_required = bool(spec.is_approval_required_for_add
                             or spec.is_approval_required_for_update)
    checked = check_stages(spec.stages, approval_required)
    check_expiration(policy, spec.expiration_type, spec.expiration_end_at,
                     spec.expiration_duration)
    reviews = review_settings_from_graph(spec.review_settings)
    _refuse_stage_count_change(policy, checked)

    before = _snapshot(policy) if policy.pk else None
    policy.display_name, policy.description = name, clean_text(spec.description)
    policy.allowed_target_scope = spec.allowed_target_scope
    for flag in PolicySpec.FLAGS:
        setattr(policy, flag, bool(getattr(spec, flag)))
    policy.expiration_type = spec.expiration_type
    policy.expiration_end_at = spec.expiration_end_at \
        if spec.expiration_type == ExpirationType.AFTER_DATETIME else None
    policy.expiration_duration = spec.expiration_duration \
        if spec.expiration_type == ExpirationType.AFTER_DURATION else None
    policy.review_settings = reviews.to_graph() if reviews.is_enabled else {}
    rule_changed = bool(spec.is_automatic) and (policy.pk is None or any(
        getattr(policy, name) != getattr(spec, name) for name in AUTOMATIC_FIELDS))
    policy.is_automatic = bool(spec.is_automatic)
    policy.membership_rule_description = clean_text(spec.membership_rule_description)
    for name in AUTOMATIC_FIELDS:
        setattr(policy, name, getattr(spec, name) if spec.is_automatic
                else AssignmentPolicy._meta.get_field(name).get_default())
    if not spec.is_automatic:
        policy.membership_rule = ""
    policy.save()
    policy.specific_users.set(targets.users)
    policy.specific_groups.set(targets.groups)
    policy.specific_connected_organizations.set(targets.organizations)
    _write_stages(policy, checked)
    audit_saved(actor=actor, obj=policy, before=before, after=_snapshot(policy),
                created="policy.created", changed="policy.changed")
    if rule_changed:
        rule_evaluation_queue(policy, actor=actor)
    return policy


def policy_lock(policy_id: int) -> AssignmentPolicy:
    return locked_under_parent(AssignmentPolicy, policy_id, "access_package", package_lock,
                               "This policy does not exist.", code="policyNotFound")


def policy_delete(*, actor: User, policy_id: int) -> None:
    """Delete a policy with its stages and questions, once nothing depends on it.

    :raises InvalidState: requests under it are open, assignments under it are active, or
        its history keeps it.
    """
    with transaction.atomic():
        policy = policy_lock(policy_id)
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
