"""The parts of a Graph accessPackageAssignmentPolicy body: subject sets, approval stages and
questions, each read with refusals naming its property path (policy_body reads the whole
body)."""

from dataclasses import dataclass
from datetime import timedelta

from governance.choices import QuestionKind, SubjectSetType
from governance.models import ConnectedOrganization, Group, User
from governance.services.policy_spec import DYNAMIC_APPROVERS, StageSpec

from .graph_json import Body, InvalidBody, parse_duration
from .shapes import GRAPH

SEQUENCE_MAX = 32767
STAGE = ("durationBeforeAutomaticDenial", "isApproverJustificationRequired",
         "isEscalationEnabled", "durationBeforeEscalation", "primaryApprovers",
         "fallbackPrimaryApprovers", "escalationApprovers", "fallbackEscalationApprovers",
         "approverInformationVisibility")
QUESTION = ("id", "sequence", "isRequired", "isAnswerEditable", "text", "localizations",
            "isSingleLineQuestion", "regexPattern", "choices", "isMultipleSelectionAllowed")
SUBJECT_SETS = {"singleUser": ("userId", "description"),
                "groupMembers": ("groupId", "description"),
                "connectedOrganizationMembers": ("connectedOrganizationId", "description"),
                "requestorManager": ("managerLevel",),
                "internalSponsors": (), "externalSponsors": (), "targetUserSponsors": (),
                # An automatic policy's people: those its membership rule matches.
                "attributeRuleMembers": ("description", "membershipRule")}
QUESTION_TYPES = {"accessPackageTextInputQuestion": QuestionKind.TEXT,
                  "accessPackageMultipleChoiceQuestion": QuestionKind.CHOICE}


def bad(path: str, problem: str) -> InvalidBody:
    return InvalidBody(f"{path}: {problem}")


def graph_type_name(value, path: str):
    """The name in ``"@odata.type": "#microsoft.graph.<name>"`` (None when absent)."""
    raw = value.get("@odata.type")
    if raw is not None and not isinstance(raw, str):
        raise bad(f"{path}.@odata.type", "expected a string such as '#microsoft.graph.…'.")
    return raw.removeprefix(GRAPH) if raw else None


def review_shape(review: dict) -> None:
    """The objects and lists of Graph's accessPackageAssignmentReviewSettings are what they
    should be (governance.models.review_settings checks their values)."""
    schedule = review.get("schedule")
    parts = [("reviewSettings.schedule", schedule)]
    if isinstance(schedule, dict):
        recurrence = schedule.get("recurrence")
        parts += [("reviewSettings.schedule.expiration", schedule.get("expiration")),
                  ("reviewSettings.schedule.recurrence", recurrence)]
        if isinstance(recurrence, dict):
            parts.append(("reviewSettings.schedule.recurrence.pattern",
                          recurrence.get("pattern")))
    for path, value in parts:
        if value is not None and not isinstance(value, dict):
            raise bad(path, "expected a JSON object.")
    for name in ("primaryReviewers", "fallbackReviewers"):
        for index, item in enumerate(array(review.get(name), f"reviewSettings.{name}")):
            if not isinstance(item, dict):
                raise bad(f"reviewSettings.{name}[{index}]", "expected a subject set object.")


class _Part(Body):
    """A nested object of the body: its refusals name the whole path."""

    def __init__(self, data: dict, allowed, path: str):
        super().__init__(data, allowed, path)
        self.path = path

    def text(self, name: str, default: str = "") -> str:
        try:
            return super().text(name, default)
        except InvalidBody as error:
            raise bad(f"{self.path}.{name}", error.message.split(": ", 1)[-1]) from None


def object_body(value, path: str, allowed) -> Body:
    if not isinstance(value, dict):
        raise bad(path, "expected a JSON object.")
    unknown = sorted(k for k in value if k not in allowed and not k.startswith("@odata."))
    if unknown:
        raise bad(path, f"has no property {', '.join(repr(k) for k in unknown)}.")
    return _Part(value, allowed, path)


def array(value, path: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(path, "expected a JSON array.")
    return value


def flag(body: Body, name: str, path: str, default: bool) -> bool:
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
    """(Graph type, what it names: a User, Group, ConnectedOrganization, manager level, the
    (membershipRule, description) of attributeRuleMembers, or None) of one subjectSet."""
    if not isinstance(value, dict):
        raise bad(path, "expected a subject set object.")
    raw_type = value.get("@odata.type")
    kind = graph_type_name(value, path)
    if kind not in SUBJECT_SETS:
        raise bad(f"{path}.@odata.type", f"'{raw_type}' is not one of "
                  f"{', '.join(GRAPH + name for name in SUBJECT_SETS)}.")
    body = object_body(value, path, SUBJECT_SETS[kind])
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
    if kind == "attributeRuleMembers":
        return kind, (body.text("membershipRule"), body.text("description"))
    return kind, None


def _users_only(values, path: str) -> list[User]:
    people = []
    for index, value in enumerate(array(values, path)):
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
    body = object_body(value, path, STAGE)
    spec = StageSpec()
    if body.has("durationBeforeAutomaticDenial"):
        spec.deadline_days = _whole_days(body.data["durationBeforeAutomaticDenial"],
                                         f"{path}.durationBeforeAutomaticDenial")
    if body.data.get("approverInformationVisibility") not in (None, "default"):
        raise bad(f"{path}.approverInformationVisibility", "only 'default' is supported: "
                  "requestors see who approves as the portal shows it.")
    spec.justification_required = flag(body, "isApproverJustificationRequired", path, False)
    approvers, primary = [], f"{path}.primaryApprovers"
    for index, item in enumerate(array(body.data.get("primaryApprovers"), primary)):
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
    if array(body.data.get("fallbackEscalationApprovers"), f"{path}.fallbackEscalationApprovers"):
        raise bad(f"{path}.fallbackEscalationApprovers", "fallback escalation approvers are not "
                  "supported; name escalation approvers only.")
    if flag(body, "isEscalationEnabled", path, False):
        spec.escalate_after_days = _whole_days(body.data.get("durationBeforeEscalation"),
                                               f"{path}.durationBeforeEscalation")
    return spec


def _localizations(value, path: str) -> dict:
    result = {}
    for index, item in enumerate(array(value, path)):
        entry = object_body(item, f"{path}[{index}]", ("text", "languageCode"))
        result[entry.text("languageCode")] = entry.text("text")
    return result


@dataclass
class QuestionSpec:
    question_id: int | None
    fields: dict
    path: str


def question_spec(value, path: str) -> QuestionSpec:
    if not isinstance(value, dict):
        raise bad(path, "expected a question object.")
    raw_type = value.get("@odata.type")
    kind_name = graph_type_name(value, path)
    if kind_name is None:
        kind_name = ("accessPackageMultipleChoiceQuestion" if "choices" in value
                     else "accessPackageTextInputQuestion")
    if kind_name not in QUESTION_TYPES:
        raise bad(f"{path}.@odata.type", f"'{raw_type}' is not one of "
                  f"{', '.join(GRAPH + name for name in QUESTION_TYPES)}.")
    body = object_body(value, path, QUESTION)
    kind = QUESTION_TYPES[kind_name]
    sequence = body.data.get("sequence", 0)
    if not isinstance(sequence, int) or isinstance(sequence, bool) \
            or not 0 <= sequence <= SEQUENCE_MAX:
        raise bad(f"{path}.sequence", f"expected a whole number from 0 to {SEQUENCE_MAX}.")
    choices = []
    for index, item in enumerate(array(body.data.get("choices"), f"{path}.choices")):
        choice = object_body(item, f"{path}.choices[{index}]",
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
              "is_required": flag(body, "isRequired", path, True),
              "is_answer_editable": flag(body, "isAnswerEditable", path, False),
              "is_single_line": flag(body, "isSingleLineQuestion", path, True),
              "regex_pattern": body.text("regexPattern"), "choices": choices,
              "allows_multiple_selection": flag(body, "isMultipleSelectionAllowed", path,
                                                 False),
              "localizations": _localizations(body.data.get("localizations"),
                                              f"{path}.localizations")}
    return QuestionSpec(question_id, fields, path)
