"""accessPackageAssignmentPolicy as Graph v1.0 writes it: the policy, its subject sets, its
approval stages and its questions, read from prefetched rows (see POLICY_PREFETCH).

The reverse direction (a request body → policy_save's arguments) is policy_body.
"""

from django.db.models import Prefetch, QuerySet

from governance.choices import ApproverKind, QuestionKind, SubjectSetType
from governance.models import ApproverSet, AssignmentPolicy, Question

from . import odata
from .graph_json import duration, instant
from .shapes import GRAPH, catalog_json, package_json, sid

SCOPES = ("notSpecified", "specificDirectoryUsers", "specificConnectedOrganizationUsers",
          "allMemberUsers", "allDirectoryUsers", "allConfiguredConnectedOrganizationUsers",
          "allExternalUsers")

POLICY_FIELDS = {
    "id": odata.ident("pk"),
    "displayName": odata.text("display_name"),
    "description": odata.text("description"),
    "allowedTargetScope": odata.enum("allowed_target_scope", SCOPES),
    "accessPackage/id": odata.ident("access_package_id"),
    "catalog/id": odata.ident("access_package__catalog_id"),
    "createdDateTime": odata.instant("created_at"),
    "modifiedDateTime": odata.instant("modified_at"),
}

# What policy_json reads, as lookups from a policy (prefix them to reach policies from
# elsewhere, e.g. "policies__" from a package).
POLICY_PREFETCH = (
    "specific_users", "specific_groups", "specific_connected_organizations", "questions",
    "stages",
)


def policy_prefetches(prefix: str = "") -> list:
    return [*(prefix + name for name in POLICY_PREFETCH),
            Prefetch(prefix + "stages__approver_sets",
                     queryset=ApproverSet.objects.select_related("user", "group").order_by("id"))]


def prefetch_policies(queryset: QuerySet, expand) -> QuerySet:
    queryset = queryset.select_related("access_package__catalog")
    return queryset.prefetch_related(*policy_prefetches())


def _single_user(user) -> dict:
    return {"@odata.type": GRAPH + "singleUser", "userId": sid(user.pk),
            "description": user.display_name or user.email}


def _group_members(group) -> dict:
    return {"@odata.type": GRAPH + "groupMembers", "groupId": sid(group.pk),
            "description": group.display_name}


def subject_set_json(row: ApproverSet) -> dict:
    if row.subject_type == SubjectSetType.SINGLE_USER:
        return _single_user(row.user)
    if row.subject_type == SubjectSetType.GROUP_MEMBERS:
        return _group_members(row.group)
    if row.subject_type == SubjectSetType.REQUESTOR_MANAGER:
        return {"@odata.type": GRAPH + "requestorManager", "managerLevel": row.manager_level}
    return {"@odata.type": GRAPH + row.subject_type}


def allowed_targets_json(policy: AssignmentPolicy) -> list[dict]:
    if policy.is_automatic:
        return [{"@odata.type": GRAPH + "attributeRuleMembers",
                 "description": policy.membership_rule_description,
                 "membershipRule": policy.membership_rule}]
    users = sorted(policy.specific_users.all(), key=lambda user: user.pk)
    groups = sorted(policy.specific_groups.all(), key=lambda group: group.pk)
    organizations = sorted(policy.specific_connected_organizations.all(), key=lambda o: o.pk)
    return ([_single_user(user) for user in users]
            + [_group_members(group) for group in groups]
            + [{"@odata.type": GRAPH + "connectedOrganizationMembers",
                "connectedOrganizationId": sid(org.pk), "description": org.display_name}
               for org in organizations])


def _days(days: int | None) -> str:
    return f"P{days}D" if days else "PT0S"


def stage_json(stage) -> dict:
    rows = sorted(stage.approver_sets.all(), key=lambda row: row.pk)

    def of(kind):
        return [subject_set_json(row) for row in rows if row.kind == kind]

    return {
        "durationBeforeAutomaticDenial": _days(stage.duration_before_automatic_denial_days),
        "isApproverJustificationRequired": stage.is_approver_justification_required,
        "isEscalationEnabled": stage.is_escalation_enabled,
        "durationBeforeEscalation": _days(stage.duration_before_escalation_days
                                          if stage.is_escalation_enabled else None),
        "primaryApprovers": of(ApproverKind.PRIMARY),
        "fallbackPrimaryApprovers": of(ApproverKind.FALLBACK),
        "escalationApprovers": of(ApproverKind.ESCALATION),
        "fallbackEscalationApprovers": [],
        "approverInformationVisibility": "default",
    }


def _localizations(values: dict) -> list[dict]:
    return [{"text": text, "languageCode": code} for code, text in (values or {}).items()]


def question_json(question: Question) -> dict:
    item = {
        "id": sid(question.pk),
        "sequence": question.sequence,
        "isRequired": question.is_required,
        "isAnswerEditable": question.is_answer_editable,
        "text": question.text,
        "localizations": _localizations(question.localizations),
    }
    if question.kind == QuestionKind.CHOICE:
        return {"@odata.type": GRAPH + "accessPackageMultipleChoiceQuestion", **item,
                "choices": [{"actualValue": choice["value"], "text": choice["text"],
                             "localizations": _localizations(choice.get("localizations"))}
                            for choice in question.choices],
                "isMultipleSelectionAllowed": question.allows_multiple_selection}
    return {"@odata.type": GRAPH + "accessPackageTextInputQuestion", **item,
            "isSingleLineQuestion": question.is_single_line,
            "regexPattern": question.regex_pattern or None}


def expiration_json(policy: AssignmentPolicy) -> dict:
    return {"type": policy.expiration_type, "endDateTime": instant(policy.expiration_end_at),
            "duration": duration(policy.expiration_duration)
            if policy.expiration_type == "afterDuration" else None}


def _requestor_settings_json(policy: AssignmentPolicy) -> dict:
    on_behalf = policy.enable_on_behalf_of_direct_reports
    return {
        "enableTargetsToSelfAddAccess": policy.enable_self_add,
        "enableTargetsToSelfUpdateAccess": policy.enable_self_update,
        "enableTargetsToSelfRemoveAccess": policy.enable_self_remove,
        "allowCustomAssignmentSchedule": policy.allow_custom_schedule,
        "enableOnBehalfRequestorsToAddAccess": on_behalf,
        "enableOnBehalfRequestorsToUpdateAccess": False,
        "enableOnBehalfRequestorsToRemoveAccess": False,
        "onBehalfRequestors": [{"@odata.type": GRAPH + "requestorManager", "managerLevel": 1}]
        if on_behalf else [],
    }


def automatic_settings_json(policy: AssignmentPolicy) -> dict | None:
    """accessPackageAutomaticRequestSettings: null for a policy people request under."""
    if not policy.is_automatic:
        return None
    grace = policy.grace_period_before_access_removal
    return {
        "requestAccessForAllowedTargets": policy.request_access_for_allowed_targets,
        "removeAccessWhenTargetLeavesAllowedTargets": policy.remove_access_when_target_leaves,
        "gracePeriodBeforeAccessRemoval": duration(grace) if grace else "PT0S",
    }


def policy_json(policy: AssignmentPolicy, expand=()) -> dict:
    stages = sorted(policy.stages.all(), key=lambda stage: stage.order)
    questions = sorted(policy.questions.all(), key=lambda q: (q.sequence, q.pk))
    item = {
        "id": sid(policy.pk),
        "displayName": policy.display_name,
        "description": policy.description,
        "allowedTargetScope": policy.allowed_target_scope,
        "specificAllowedTargets": allowed_targets_json(policy),
        "automaticRequestSettings": automatic_settings_json(policy),
        "expiration": expiration_json(policy),
        "requestorSettings": _requestor_settings_json(policy),
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": policy.is_approval_required_for_add,
            "isApprovalRequiredForUpdate": policy.is_approval_required_for_update,
            "isRequestorJustificationRequired": policy.is_requestor_justification_required,
            "stages": [stage_json(stage) for stage in stages],
        },
        "reviewSettings": policy.review_settings or None,
        "notificationSettings": {
            "isAssignmentNotificationDisabled": not policy.send_assignment_emails},
        "questions": [question_json(question) for question in questions],
        "createdDateTime": instant(policy.created_at),
        "modifiedDateTime": instant(policy.modified_at),
    }
    if "accessPackage" in expand:
        item["accessPackage"] = package_json(policy.access_package)
    if "catalog" in expand:
        item["catalog"] = catalog_json(policy.access_package.catalog)
    return item
