"""What a policy is made of, in the engine's own names: `PolicySpec` and its `StageSpec`s.

policy_save takes a PolicySpec; the admin's form and the API's body are mappers onto it.
A refusal names the spec's field (`display_name`, `expiration_duration`) or, for a stage, its
path in the spec: "stages[1].deadline_days" (see `stage_field`). The admin turns those into its
form's fields, the API into Graph's property paths (governance.api.graph_paths).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from governance.choices import AllowedTargetScope, ApproverKind, ExpirationType, SubjectSetType
from governance.models import (
    ApprovalStageSetting,
    AssignmentPolicy,
    ConnectedOrganization,
    Group,
    User,
)

MAX_STAGES = 3
# Approvers found from the request (the requestor's manager, sponsors): they may not exist.
DYNAMIC_APPROVERS = (SubjectSetType.REQUESTOR_MANAGER, SubjectSetType.INTERNAL_SPONSORS,
                     SubjectSetType.EXTERNAL_SPONSORS, SubjectSetType.TARGET_USER_SPONSORS)
STAGE_FIELD = re.compile(r"stages\[(?P<index>\d+)\]\.(?P<name>\w+)")


def stage_field(index: int, name: str) -> str:
    """The field a refusal about the stage at `index` (0 for the first) names."""
    return f"stages[{index}].{name}"


@dataclass
class StageSpec:
    """One approval stage. Refusals about it name `stage_field(index, name)`."""

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
class PolicySpec:
    """A policy's whole configuration but its package, questions and custom extensions.
    The defaults are the portal's for a new policy."""

    display_name: str = ""
    description: str = ""
    allowed_target_scope: str = AllowedTargetScope.NOT_SPECIFIED
    specific_users: Sequence[User] = ()
    specific_groups: Sequence[Group] = ()
    specific_connected_organizations: Sequence[ConnectedOrganization] = ()
    enable_self_add: bool = True
    enable_self_update: bool = True
    enable_self_remove: bool = True
    allow_custom_schedule: bool = False
    enable_on_behalf_of_direct_reports: bool = False
    is_approval_required_for_add: bool = True
    is_approval_required_for_update: bool = False
    is_requestor_justification_required: bool = False
    expiration_type: str = ExpirationType.AFTER_DURATION
    expiration_end_at: datetime | None = None
    expiration_duration: timedelta | None = timedelta(days=365)
    review_settings: dict | None = None  # Graph's accessPackageAssignmentReviewSettings
    send_assignment_emails: bool = True
    stages: Sequence[StageSpec] = ()
    # An automatic policy (Graph's automaticRequestSettings and attributeRuleMembers): no
    # requestor settings, no approval; everyone the rule matches is assigned.
    is_automatic: bool = False
    membership_rule: str = ""
    membership_rule_description: str = ""
    request_access_for_allowed_targets: bool = True
    remove_access_when_target_leaves: bool = True
    grace_period_before_access_removal: timedelta | None = timedelta(days=7)

    FLAGS = ("enable_self_add", "enable_self_update", "enable_self_remove",
             "allow_custom_schedule", "enable_on_behalf_of_direct_reports",
             "is_approval_required_for_add", "is_approval_required_for_update",
             "is_requestor_justification_required", "send_assignment_emails")

    @classmethod
    def of(cls, policy: AssignmentPolicy) -> "PolicySpec":
        """The spec that keeps `policy` as it is."""
        kept = {spec_field.name: getattr(policy, spec_field.name) for spec_field in fields(cls)
                if spec_field.name not in ("specific_users", "specific_groups",
                                           "specific_connected_organizations", "stages")}
        return cls(**kept, specific_users=list(policy.specific_users.all()),
                   specific_groups=list(policy.specific_groups.all()),
                   specific_connected_organizations=list(
                       policy.specific_connected_organizations.all()),
                   stages=[StageSpec.of(stage) for stage in policy.stages.order_by("order")])
