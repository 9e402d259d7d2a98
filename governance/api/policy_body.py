"""A Graph accessPackageAssignmentPolicy body → the arguments of services.policies.policy_save
and the questions to write with question_save / question_delete.

``PolicyBody(data, base)`` reads the body over ``base`` (policy_save's arguments: the current
policy's for PATCH, Graph's defaults for POST and PUT); every refusal names the property path,
e.g. "requestApprovalSettings.stages[0].durationBeforeAutomaticDenial: …".
"""

import re
from dataclasses import dataclass
from datetime import timedelta

from governance.choices import ExpirationType, QuestionKind, SubjectSetType
from governance.models import AssignmentPolicy, ConnectedOrganization, Group, User
from governance.services.errors import InvalidInput
from governance.services.policies import DYNAMIC_APPROVERS, StageSpec

from .graph_json import Body, InvalidBody, parse_duration, parse_enum, parse_instant
from .policy_json import SCOPES

GRAPH = "#microsoft.graph."
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
STAGE = ("durationBeforeAutomaticDenial", "isApproverJustificationRequired",
         "isEscalationEnabled", "durationBeforeEscalation", "primaryApprovers",
         "fallbackPrimaryApprovers", "escalationApprovers", "fallbackEscalationApprovers")
QUESTION = ("id", "sequence", "isRequired", "isAnswerEditable", "text", "localizations",
            "isSingleLineQuestion", "regexPattern", "choices", "isMultipleSelectionAllowed")
SUBJECT_SETS = {"singleUser": ("userId", "description"),
                "groupMembers": ("groupId", "description"),
                "connectedOrganizationMembers": ("connectedOrganizationId", "description"),
                "requestorManager": ("managerLevel",),
                "internalSponsors": (), "externalSponsors": (), "targetUserSponsors": ()}
QUESTION_TYPES = {"accessPackageTextInputQuestion": QuestionKind.TEXT,
                  "accessPackageMultipleChoiceQuestion": QuestionKind.CHOICE}


def bad(path: str, problem: str) -> InvalidBody:
    return InvalidBody(f"{path}: {problem}")


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


def _object(value, path: str, allowed) -> Body:
    if not isinstance(value, dict):
        raise bad(path, "expected a JSON object.")
    unknown = sorted(k for k in value if k not in allowed and not k.startswith("@odata."))
    if unknown:
        raise bad(path, f"has no property {', '.join(repr(k) for k in unknown)}.")
    return Body(value, allowed, path)


def _list(value, path: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(path, "expected a JSON array.")
    return value


def _flag(body: Body, name: str, path: str, default: bool) -> bool:
    value = body.data.get(name, default)
    if not isinstance(value, bool):
        raise bad(f"{path}.{name}", "expected true or false.")
    return value


def _row(model, raw, path: str, what: str):
    text = str(raw if raw is not None else "").strip()
    found = model.objects.filter(pk=int(text)).first() \
        if text.isdigit() and len(text) <= 18 else None
    if found is None:
        raise bad(path, f"no {what} has the id '{raw}'.")
    return found


def subject_set(value, path: str) -> tuple[str, object]:
    """(Graph type, what it names: a User, Group, ConnectedOrganization, manager level or
    None) of one subjectSet."""
    if not isinstance(value, dict):
        raise bad(path, "expected a subject set object.")
    raw_type = value.get("@odata.type")
    kind = raw_type[len(GRAPH):] if isinstance(raw_type, str) and raw_type.startswith(GRAPH) \
        else raw_type
    if kind not in SUBJECT_SETS:
        raise bad(f"{path}.@odata.type", f"'{raw_type}' is not one of "
                  f"{', '.join(GRAPH + name for name in SUBJECT_SETS)}.")
    body = _object(value, path, SUBJECT_SETS[kind])
    if kind == "singleUser":
        return kind, _row(User, body.data.get("userId"), f"{path}.userId", "user")
    if kind == "groupMembers":
        return kind, _row(Group, body.data.get("groupId"), f"{path}.groupId", "group")
    if kind == "connectedOrganizationMembers":
        return kind, _row(ConnectedOrganization, body.data.get("connectedOrganizationId"),
                          f"{path}.connectedOrganizationId", "connected organization")
    if kind == "requestorManager":
        level = body.data.get("managerLevel", 1)
        if level not in (1, 2) or isinstance(level, bool):
            raise bad(f"{path}.managerLevel", "1 (the requestor's manager) or 2 (theirs).")
        return kind, level
    return kind, None


def _users_only(values, path: str) -> list[User]:
    people = []
    for index, value in enumerate(_list(values, path)):
        kind, found = subject_set(value, f"{path}[{index}]")
        if kind != "singleUser":
            raise bad(f"{path}[{index}]", "only #microsoft.graph.singleUser is supported here.")
        people.append(found)
    return people


def _whole_days(value, path: str, *, allow_zero: bool = False) -> int:
    parsed = parse_duration(value, path, allow_zero=allow_zero)
    if parsed is None:
        raise bad(path, "give a duration in days, e.g. P14D.")
    if parsed % timedelta(days=1):
        raise bad(path, f"'{value}' is not a whole number of days.")
    return parsed.days


def stage_spec(value, path: str) -> StageSpec:
    body = _object(value, path, STAGE)
    spec = StageSpec()
    if body.has("durationBeforeAutomaticDenial"):
        spec.deadline_days = _whole_days(body.data["durationBeforeAutomaticDenial"],
                                         f"{path}.durationBeforeAutomaticDenial")
    spec.justification_required = _flag(body, "isApproverJustificationRequired", path, False)
    approvers, primary = [], f"{path}.primaryApprovers"
    for index, item in enumerate(_list(body.data.get("primaryApprovers"), primary)):
        kind, found = subject_set(item, f"{primary}[{index}]")
        if kind == "singleUser":
            approvers.append(found)
        elif kind == "groupMembers":
            if spec.approver_group is not None:
                raise bad(f"{primary}[{index}]", "a stage names at most one group.")
            spec.approver_group = found
        elif kind in DYNAMIC_APPROVERS:
            if spec.dynamic_approver:
                raise bad(f"{primary}[{index}]", "a stage names at most one manager or "
                          "sponsors subject set.")
            spec.dynamic_approver = kind
            if kind == SubjectSetType.REQUESTOR_MANAGER:
                spec.manager_level = found
        else:
            raise bad(f"{primary}[{index}]", f"{GRAPH}{kind} cannot approve.")
    spec.approvers = approvers
    spec.fallback_approvers = _users_only(body.data.get("fallbackPrimaryApprovers"),
                                          f"{path}.fallbackPrimaryApprovers")
    spec.escalation_approvers = _users_only(body.data.get("escalationApprovers"),
                                            f"{path}.escalationApprovers")
    if _list(body.data.get("fallbackEscalationApprovers"), f"{path}.fallbackEscalationApprovers"):
        raise bad(f"{path}.fallbackEscalationApprovers", "fallback escalation approvers are not "
                  "supported; name escalation approvers only.")
    if _flag(body, "isEscalationEnabled", path, False):
        spec.escalate_after_days = _whole_days(body.data.get("durationBeforeEscalation"),
                                               f"{path}.durationBeforeEscalation")
    return spec


def _localizations(value, path: str) -> dict:
    result = {}
    for index, item in enumerate(_list(value, path)):
        entry = _object(item, f"{path}[{index}]", ("text", "languageCode"))
        result[entry.text("languageCode")] = entry.text("text")
    return result


@dataclass
class QuestionSpec:
    question_id: int | None
    fields: dict
    path: str


def question_spec(value, path: str) -> QuestionSpec:
    raw_type = value.get("@odata.type") if isinstance(value, dict) else None
    kind_name = raw_type[len(GRAPH):] if isinstance(raw_type, str) and raw_type.startswith(GRAPH) \
        else raw_type
    if raw_type is None and isinstance(value, dict):
        kind_name = ("accessPackageMultipleChoiceQuestion" if "choices" in value
                     else "accessPackageTextInputQuestion")
    if kind_name not in QUESTION_TYPES:
        raise bad(f"{path}.@odata.type", f"'{raw_type}' is not one of "
                  f"{', '.join(GRAPH + name for name in QUESTION_TYPES)}.")
    body = _object(value, path, QUESTION)
    kind = QUESTION_TYPES[kind_name]
    sequence = body.data.get("sequence", 0)
    if not isinstance(sequence, int) or isinstance(sequence, bool):
        raise bad(f"{path}.sequence", "expected a whole number.")
    choices = []
    for index, item in enumerate(_list(body.data.get("choices"), f"{path}.choices")):
        choice = _object(item, f"{path}.choices[{index}]",
                         ("actualValue", "text", "localizations"))
        entry = {"value": choice.text("actualValue"), "text": choice.text("text")}
        localizations = _localizations(choice.data.get("localizations"),
                                       f"{path}.choices[{index}].localizations")
        if localizations:
            entry["localizations"] = localizations
        choices.append(entry)
    raw_id = body.data.get("id")
    question_id = None
    if raw_id not in (None, ""):
        if not str(raw_id).isdigit():
            raise bad(f"{path}.id", f"'{raw_id}' is not the id of a question of this policy.")
        question_id = int(raw_id)
    fields = {"text": body.text("text"), "kind": kind, "sequence": sequence,
              "is_required": _flag(body, "isRequired", path, True),
              "is_answer_editable": _flag(body, "isAnswerEditable", path, False),
              "is_single_line": _flag(body, "isSingleLineQuestion", path, True),
              "regex_pattern": body.text("regexPattern"), "choices": choices,
              "allows_multiple_selection": _flag(body, "isMultipleSelectionAllowed", path,
                                                 False),
              "localizations": _localizations(body.data.get("localizations"),
                                              f"{path}.localizations")}
    return QuestionSpec(question_id, fields, path)


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
            args["review_settings"] = review
        if body.data.get("notificationSettings") is not None:
            notes = _object(body.data["notificationSettings"], "notificationSettings",
                            ("isAssignmentNotificationDisabled",))
            args["send_assignment_emails"] = not _flag(
                notes, "isAssignmentNotificationDisabled", "notificationSettings",
                not args["send_assignment_emails"])
        if body.has("questions"):
            self.questions = [question_spec(item, f"questions[{index}]") for index, item
                              in enumerate(_list(body.data["questions"], "questions"))]

    def _targets(self, values) -> None:
        users, groups, organizations = [], [], []
        for index, value in enumerate(_list(values, "specificAllowedTargets")):
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
        body, args = _object(value, "expiration", EXPIRATION), self.arguments
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
        body, args, path = _object(value, "requestorSettings", REQUESTOR), self.arguments, \
            "requestorSettings"
        for name, key in (("enableTargetsToSelfAddAccess", "enable_self_add"),
                          ("enableTargetsToSelfUpdateAccess", "enable_self_update"),
                          ("enableTargetsToSelfRemoveAccess", "enable_self_remove"),
                          ("allowCustomAssignmentSchedule", "allow_custom_schedule"),
                          ("enableOnBehalfRequestorsToAddAccess",
                           "enable_on_behalf_of_direct_reports"),
                          ("isRequestorJustificationRequired",
                           "is_requestor_justification_required")):
            args[key] = _flag(body, name, path, args[key])
        for name in ("enableOnBehalfRequestorsToUpdateAccess",
                     "enableOnBehalfRequestorsToRemoveAccess"):
            if _flag(body, name, path, False):
                raise bad(f"{path}.{name}", "managers may only ask for access on behalf of "
                          "their direct reports; this must be false.")
        for index, item in enumerate(_list(body.data.get("onBehalfRequestors"),
                                           f"{path}.onBehalfRequestors")):
            kind, level = subject_set(item, f"{path}.onBehalfRequestors[{index}]")
            if kind != "requestorManager" or level != 1:
                raise bad(f"{path}.onBehalfRequestors[{index}]", "only the direct manager "
                          f"({GRAPH}requestorManager, managerLevel 1) may ask on behalf.")

    def _approval(self, value) -> None:
        path = "requestApprovalSettings"
        body, args = _object(value, path, APPROVAL), self.arguments
        for name, key in (("isApprovalRequiredForAdd", "is_approval_required_for_add"),
                          ("isApprovalRequiredForUpdate", "is_approval_required_for_update"),
                          ("isRequestorJustificationRequired",
                           "is_requestor_justification_required")):
            args[key] = _flag(body, name, path, args[key])
        if body.has("stages"):
            args["stages"] = [stage_spec(item, f"{path}.stages[{index}]") for index, item
                              in enumerate(_list(body.data["stages"], f"{path}.stages"))]


_STAGE_FIELD = re.compile(r"stage(?P<n>\d)_(?P<name>\w+)")
_STAGE_NAMES = {"deadline_days": "durationBeforeAutomaticDenial",
                "approvers": "primaryApprovers", "dynamic_approver": "primaryApprovers",
                "fallback_approvers": "fallbackPrimaryApprovers",
                "escalation_approvers": "escalationApprovers",
                "escalate_after_days": "durationBeforeEscalation"}
_FIELDS = {"display_name": "displayName", "description": "description",
           "allowed_target_scope": "allowedTargetScope",
           "specific_users": "specificAllowedTargets",
           "specific_groups": "specificAllowedTargets",
           "specific_connected_organizations": "specificAllowedTargets",
           "is_approval_required_for_add": "requestApprovalSettings.isApprovalRequiredForAdd",
           "expiration_type": "expiration.type", "expiration_duration": "expiration.duration",
           "expiration_end_at": "expiration.endDateTime", "review_settings": "reviewSettings",
           "access_package": "accessPackage"}
_QUESTION_FIELDS = {"text": "text", "kind": "@odata.type", "sequence": "sequence",
                    "choices": "choices", "regex_pattern": "regexPattern",
                    "localizations": "localizations"}


def graph_path(field: str | None, question_path: str | None = None) -> str | None:
    """The Graph property path of a field policy_save or question_save named."""
    if not field:
        return question_path
    if question_path is not None:
        return f"{question_path}.{_QUESTION_FIELDS.get(field, field)}"
    stage = _STAGE_FIELD.fullmatch(field)
    if stage:
        name = _STAGE_NAMES.get(stage["name"], stage["name"])
        return f"requestApprovalSettings.stages[{int(stage['n']) - 1}].{name}"
    return _FIELDS.get(field, field)


def renamed(refusal: InvalidInput, question_path: str | None = None) -> InvalidInput:
    """The service's refusal, naming the Graph property instead of the form's field."""
    refusal.field = graph_path(getattr(refusal, "field", None), question_path)
    return refusal
