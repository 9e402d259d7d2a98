"""The one mapping from the services' field names to Graph's property paths.

The services name the field a refusal concerns in the engine's words (PolicySpec's fields,
"stages[1].deadline_days", request_submit's `start_at`); the API's error handler writes each
refusal after the Graph property it concerns, through `graph_path`, so that
"requestApprovalSettings.stages[1].durationBeforeAutomaticDenial: …" names what the caller
sent. A field without an entry is written in camelCase (`display_name` → displayName).
"""

import re

from governance.services.errors import Refused
from governance.services.policy_spec import STAGE_FIELD

# Field → property path, where the path is not the field in camelCase.
GRAPH_PATHS = {
    # Assignment policies (PolicySpec)
    "specific_users": "specificAllowedTargets",
    "specific_groups": "specificAllowedTargets",
    "specific_connected_organizations": "specificAllowedTargets",
    "is_approval_required_for_add": "requestApprovalSettings.isApprovalRequiredForAdd",
    "expiration_type": "expiration.type",
    "expiration_duration": "expiration.duration",
    "expiration_end_at": "expiration.endDateTime",
    "stages": "requestApprovalSettings.stages",
    # An automatic policy: its rule is its one specificAllowedTarget (attributeRuleMembers).
    "is_automatic": "automaticRequestSettings",
    "membership_rule": "specificAllowedTargets[0].membershipRule",
    "membership_rule_description": "specificAllowedTargets[0].description",
    "request_access_for_allowed_targets": "automaticRequestSettings.requestAccessForAllowedTargets",
    "remove_access_when_target_leaves":
        "automaticRequestSettings.removeAccessWhenTargetLeavesAllowedTargets",
    "grace_period_before_access_removal":
        "automaticRequestSettings.gracePeriodBeforeAccessRemoval",
    # Access package assignment requests
    "start_at": "schedule.startDateTime",
    "end_at": "schedule.expiration.endDateTime",
    "policy": "assignment.assignmentPolicyId",
    # Connected organizations
    "domains": "identitySources",
    # People (services.people); the profile fields are their camelCase (job_title → jobTitle)
    "manager_id": "manager",
    "sponsor_ids": "sponsors",
    "active": "accountEnabled",
}
# A policy's stage (StageSpec) → accessPackageApprovalStage.
STAGE_PATHS = {"deadline_days": "durationBeforeAutomaticDenial",
               "approvers": "primaryApprovers", "dynamic_approver": "primaryApprovers",
               "fallback_approvers": "fallbackPrimaryApprovers",
               "escalation_approvers": "escalationApprovers",
               "escalate_after_days": "durationBeforeEscalation"}
# A policy's question (question_save) → accessPackageQuestion, under "questions[<index>]".
QUESTION_FIELD = re.compile(r"(?P<question>questions\[\d+\])\.(?P<name>\w+)")
QUESTION_PATHS = {"kind": "@odata.type"}
# A request's answer to a question (request_submit names it "question_<id>").
ANSWER_FIELD = re.compile(r"question_(?P<id>\d+)")


def camel(name: str) -> str:
    """``is_externally_visible`` → ``isExternallyVisible``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(name: str) -> str:
    """``isExternallyVisible`` → ``is_externally_visible``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def graph_path(field: str | None) -> str | None:
    """The Graph property path of a field a service named (None for none)."""
    if not field:
        return None
    if field in GRAPH_PATHS:
        return GRAPH_PATHS[field]
    if stage := STAGE_FIELD.fullmatch(field):
        name = STAGE_PATHS.get(stage["name"], camel(stage["name"]))
        return f"requestApprovalSettings.stages[{stage['index']}].{name}"
    if question := QUESTION_FIELD.fullmatch(field):
        name = QUESTION_PATHS.get(question["name"], camel(question["name"]))
        return f"{question['question']}.{name}"
    if answer := ANSWER_FIELD.fullmatch(field):
        return f"answers (question {answer['id']})"
    return camel(field)


def under(refusal: Refused, path: str) -> Refused:
    """The refusal of a service that wrote one part of the body (e.g. question_save for
    "questions[2]"): its field is then a field of that part."""
    field = getattr(refusal, "field", None)
    refusal.field = f"{path}.{field}" if field else path
    return refusal


def refusal_message(refusal: Refused) -> str:
    """The refusal's message after the property it concerns."""
    field = getattr(refusal, "field", None)
    return f"{graph_path(field)}: {refusal.message}" if field else refusal.message
