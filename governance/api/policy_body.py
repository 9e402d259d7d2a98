"""A Graph accessPackageAssignmentPolicy body → the arguments of services.policies.policy_save
and the questions to write with question_save / question_delete.

``PolicyBody(data, base)`` reads the body over ``base`` (policy_save's arguments: the current
policy's for PATCH, Graph's defaults for POST and PUT); every refusal names the property path,
e.g. "requestApprovalSettings.stages[0].durationBeforeAutomaticDenial: …".
"""

from governance.choices import ExpirationType
from governance.models import AssignmentPolicy
from governance.services.policy_checks import StageSpec

from .graph_json import Body, parse_duration, parse_enum, parse_instant
from .policy_json import SCOPES
from .policy_parts import (
    GRAPH,
    QuestionSpec,
    array,
    bad,
    flag,
    graph_path,
    object_body,
    question_spec,
    renamed,
    review_shape,
    stage_spec,
    subject_set,
)

__all__ = ["POLICY_PROPERTIES", "PolicyBody", "current_arguments", "graph_defaults",
           "graph_path", "renamed", "stage_spec", "subject_set"]

POLICY_PROPERTIES = (
    "id", "displayName", "description", "allowedTargetScope", "specificAllowedTargets",
    "automaticRequestSettings", "expiration", "requestorSettings", "requestApprovalSettings",
    "reviewSettings", "notificationSettings", "questions", "accessPackage", "catalog",
    "customExtensionStageSettings", "createdDateTime", "modifiedDateTime")
EXPIRATION = ("type", "endDateTime", "duration")
REQUESTOR = ("enableTargetsToSelfAddAccess", "enableTargetsToSelfUpdateAccess",
             "enableTargetsToSelfRemoveAccess", "allowCustomAssignmentSchedule",
             "enableOnBehalfRequestorsToAddAccess", "enableOnBehalfRequestorsToUpdateAccess",
             "enableOnBehalfRequestorsToRemoveAccess", "onBehalfRequestors",
             "isRequestorJustificationRequired")
APPROVAL = ("isApprovalRequiredForAdd", "isApprovalRequiredForUpdate",
            "isRequestorJustificationRequired", "stages")


def graph_defaults() -> dict:
    """policy_save's arguments for a policy whose body names nothing (Graph's defaults)."""
    return {"display_name": "", "description": "", "allowed_target_scope": "notSpecified",
            "specific_users": [], "specific_groups": [],
            "specific_connected_organizations": [], "enable_self_add": False,
            "enable_self_update": False, "enable_self_remove": False,
            "allow_custom_schedule": False, "enable_on_behalf_of_direct_reports": False,
            "is_approval_required_for_add": False, "is_approval_required_for_update": False,
            "is_requestor_justification_required": False,
            "expiration_type": ExpirationType.NO_EXPIRATION, "expiration_end_at": None,
            "expiration_duration": None, "review_settings": None,
            "send_assignment_emails": True, "stages": []}


def current_arguments(policy: AssignmentPolicy) -> dict:
    """policy_save's arguments that keep `policy` as it is (the base of a PATCH)."""
    names = ("display_name", "description", "allowed_target_scope", "enable_self_add",
             "enable_self_update", "enable_self_remove", "allow_custom_schedule",
             "enable_on_behalf_of_direct_reports", "is_approval_required_for_add",
             "is_approval_required_for_update", "is_requestor_justification_required",
             "expiration_type", "expiration_end_at", "expiration_duration", "review_settings",
             "send_assignment_emails")
    arguments = {name: getattr(policy, name) for name in names}
    arguments.update(
        specific_users=list(policy.specific_users.all()),
        specific_groups=list(policy.specific_groups.all()),
        specific_connected_organizations=list(policy.specific_connected_organizations.all()),
        stages=[StageSpec.of(stage) for stage in policy.stages.order_by("order")])
    return arguments

class PolicyBody:
    """The body read over `base`; `arguments` are policy_save's, `questions` None when the
    body does not name them (they stay as they are)."""

    def __init__(self, data: dict, base: dict):
        self.body = Body(data, POLICY_PROPERTIES, "accessPackageAssignmentPolicy")
        self.arguments = dict(base)
        self.questions: list[QuestionSpec] | None = None
        self._read()

    def _read(self) -> None:
        body, args = self.body, self.arguments
        args["display_name"] = body.text("displayName", args["display_name"])
        args["description"] = body.text("description", args["description"])
        args["allowed_target_scope"] = body.enum("allowedTargetScope", SCOPES,
                                                 args["allowed_target_scope"])
        if body.has("specificAllowedTargets"):
            self._targets(body.data["specificAllowedTargets"])
        if body.data.get("automaticRequestSettings") is not None:
            raise bad("automaticRequestSettings", "automatic assignment policies are not "
                      "supported; leave it out or null.")
        if body.data.get("customExtensionStageSettings"):
            raise bad("customExtensionStageSettings", "set custom extensions on the policy "
                      "in the admin; leave it out or empty here.")
        if body.data.get("expiration") is not None:
            self._expiration(body.data["expiration"])
        if body.data.get("requestorSettings") is not None:
            self._requestor(body.data["requestorSettings"])
        if body.data.get("requestApprovalSettings") is not None:
            self._approval(body.data["requestApprovalSettings"])
        if body.has("reviewSettings"):
            review = body.data["reviewSettings"]
            if review is not None and not isinstance(review, dict):
                raise bad("reviewSettings", "expected a JSON object or null.")
            if review is not None:
                review_shape(review)
            args["review_settings"] = review
        if body.data.get("notificationSettings") is not None:
            notes = object_body(body.data["notificationSettings"], "notificationSettings",
                            ("isAssignmentNotificationDisabled",))
            args["send_assignment_emails"] = not flag(
                notes, "isAssignmentNotificationDisabled", "notificationSettings",
                not args["send_assignment_emails"])
        if body.has("questions"):
            self.questions = [question_spec(item, f"questions[{index}]") for index, item
                              in enumerate(array(body.data["questions"], "questions"))]

    def _targets(self, values) -> None:
        users, groups, organizations = [], [], []
        for index, value in enumerate(array(values, "specificAllowedTargets")):
            path = f"specificAllowedTargets[{index}]"
            kind, found = subject_set(value, path)
            bucket = {"singleUser": users, "groupMembers": groups,
                      "connectedOrganizationMembers": organizations}.get(kind)
            if bucket is None:
                raise bad(path, f"{GRAPH}{kind} cannot be a target of a policy; name users, "
                          "groups or connected organizations.")
            bucket.append(found)
        self.arguments.update(specific_users=users, specific_groups=groups,
                              specific_connected_organizations=organizations)

    def _expiration(self, value) -> None:
        body, args = object_body(value, "expiration", EXPIRATION), self.arguments
        kind = parse_enum(body.data.get("type", args["expiration_type"]), "expiration.type",
                          ExpirationType.values)
        args["expiration_type"] = kind
        if kind == ExpirationType.AFTER_DATETIME:
            args["expiration_end_at"] = parse_instant(body.data.get("endDateTime"),
                                                      "expiration.endDateTime")
        if kind == ExpirationType.AFTER_DURATION:
            args["expiration_duration"] = parse_duration(body.data.get("duration"),
                                                         "expiration.duration")
            if args["expiration_duration"] is None:
                raise bad("expiration.duration", "give how long access lasts, e.g. P30D.")
        elif body.data.get("duration"):
            parse_duration(body.data["duration"], "expiration.duration")  # checked, not kept

    def _requestor(self, value) -> None:
        body, args, path = object_body(value, "requestorSettings", REQUESTOR), self.arguments, \
            "requestorSettings"
        for name, key in (("enableTargetsToSelfAddAccess", "enable_self_add"),
                          ("enableTargetsToSelfUpdateAccess", "enable_self_update"),
                          ("enableTargetsToSelfRemoveAccess", "enable_self_remove"),
                          ("allowCustomAssignmentSchedule", "allow_custom_schedule"),
                          ("enableOnBehalfRequestorsToAddAccess",
                           "enable_on_behalf_of_direct_reports"),
                          ("isRequestorJustificationRequired",
                           "is_requestor_justification_required")):
            args[key] = flag(body, name, path, args[key])
        for name in ("enableOnBehalfRequestorsToUpdateAccess",
                     "enableOnBehalfRequestorsToRemoveAccess"):
            if flag(body, name, path, False):
                raise bad(f"{path}.{name}", "managers may only ask for access on behalf of "
                          "their direct reports; this must be false.")
        for index, item in enumerate(array(body.data.get("onBehalfRequestors"),
                                           f"{path}.onBehalfRequestors")):
            kind, level = subject_set(item, f"{path}.onBehalfRequestors[{index}]")
            if kind != "requestorManager" or level != 1:
                raise bad(f"{path}.onBehalfRequestors[{index}]", "only the direct manager "
                          f"({GRAPH}requestorManager, managerLevel 1) may ask on behalf.")

    def _approval(self, value) -> None:
        path = "requestApprovalSettings"
        body, args = object_body(value, path, APPROVAL), self.arguments
        for name, key in (("isApprovalRequiredForAdd", "is_approval_required_for_add"),
                          ("isApprovalRequiredForUpdate", "is_approval_required_for_update"),
                          ("isRequestorJustificationRequired",
                           "is_requestor_justification_required")):
            args[key] = flag(body, name, path, args[key])
        if body.has("stages"):
            args["stages"] = [stage_spec(item, f"{path}.stages[{index}]") for index, item
                              in enumerate(array(body.data["stages"], f"{path}.stages"))]
