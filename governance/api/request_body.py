"""POST assignmentRequests: Graph's body read and handed to the request services.

Graph's shapes::

    {"requestType": "userAdd" | "userUpdate" | "userRemove" | "adminAdd" | "adminRemove",
     "assignment": {"accessPackageId", "assignmentPolicyId", "targetId"} or {"id"},
     "justification": "...",
     "answers": [{"@odata.type": "#microsoft.graph.accessPackageAnswerString",
                  "value": "...", "answeredQuestion": {"id": "..."}}],
     "schedule": {"startDateTime": "...",
                  "expiration": {"type": "afterDateTime", "endDateTime": "..."}}}

Everything is checked before any service runs; the services refuse atomically, so a refused
request leaves nothing behind. Their refusals about a property are named as the body names it.
"""

from contextlib import contextmanager

from governance import clock
from governance.choices import UserType
from governance.models import AssignmentRequest, User
from governance.selectors.requests import assignments_active_for
from governance.services.errors import InvalidInput, NotFound
from governance.services.requests import (
    request_admin_add,
    request_extend,
    request_remove,
    request_submit,
)

from .base import reference_id
from .graph_json import Body, InvalidBody, parse_duration, parse_enum, parse_instant, reject_unknown

REQUEST_PROPERTIES = ("requestType", "assignment", "justification", "answers", "schedule",
                      "accessPackage", "requestor", "id", "state", "status")
ASSIGNMENT_PROPERTIES = ("id", "accessPackageId", "assignmentPolicyId", "targetId", "state",
                         "status", "schedule")
SUPPORTED_TYPES = ("userAdd", "userUpdate", "userRemove", "adminAdd", "adminRemove")
# Older Graph documents call an extension "userExtend".
TYPE_ALIASES = {"userExtend": "userUpdate", "UserExtend": "userUpdate"}
PERSON_TYPES = ("userAdd", "userUpdate", "userRemove")

# The services' field names and codes, as the body names them.
_FIELDS = {"start_at": "schedule.startDateTime", "end_at": "schedule.expiration.endDateTime",
           "policy": "assignment.assignmentPolicyId", "justification": "justification"}
_NOT_FOUND = {"packageNotFound": "assignment.accessPackageId",
              "policyNotFound": "assignment.assignmentPolicyId",
              "assignmentNotFound": "assignment.id", "userDeleted": "assignment.targetId"}


@contextmanager
def body_names():
    """Re-word the services' refusals about a property with the body's name for it."""
    try:
        yield
    except InvalidInput as refusal:
        field = refusal.field or ""
        if field.startswith("question_"):
            raise InvalidBody(f"answers (question {field.removeprefix('question_')}): "
                              f"{refusal.message}", code=refusal.code) from None
        if field in _FIELDS:
            raise InvalidBody(f"{_FIELDS[field]}: {refusal.message}",
                              code=refusal.code) from None
        raise
    except NotFound as refusal:
        if refusal.code in _NOT_FOUND:
            raise InvalidBody(f"{_NOT_FOUND[refusal.code]}: {refusal.message}",
                              code=refusal.code) from None
        raise


def parse_answers(raw) -> dict[str, object]:
    """{question id: value, or [values] when the question is answered more than once}."""
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise InvalidBody("answers: expected a JSON array of accessPackageAnswerString.")
    answers: dict[str, object] = {}
    for index, item in enumerate(raw):
        where = f"answers[{index}]"
        reject_unknown(item, ("value", "displayValue", "answeredQuestion"), where)
        question = item.get("answeredQuestion")
        if not isinstance(question, dict):
            raise InvalidBody(f"{where}.answeredQuestion: give the question, as {{\"id\": …}}.")
        question_id = str(reference_id(question, f"{where}.answeredQuestion", "question"))
        value = item.get("value")
        if not isinstance(value, str):
            raise InvalidBody(f"{where}.value: expected a string, got {value!r}.")
        if question_id in answers:
            previous = answers[question_id]
            answers[question_id] = [*(previous if isinstance(previous, list) else [previous]),
                                    value]
        else:
            answers[question_id] = value
    return answers


def parse_schedule(raw) -> tuple:
    """(start, end) of an entitlementManagementSchedule; (None, None) without one."""
    if raw is None:
        return None, None
    reject_unknown(raw, ("startDateTime", "expiration", "recurrence"), "schedule")
    start = parse_instant(raw.get("startDateTime"), "schedule.startDateTime")
    if raw.get("recurrence") is not None:
        raise InvalidBody("schedule.recurrence: recurring schedules are not supported.")
    expiration = raw.get("expiration")
    if expiration is None:
        return start, None
    reject_unknown(expiration, ("type", "endDateTime", "duration"), "schedule.expiration")
    kind = parse_enum(expiration.get("type", "notSpecified"), "schedule.expiration.type",
                      ("notSpecified", "noExpiration", "afterDateTime", "afterDuration"))
    end = parse_instant(expiration.get("endDateTime"), "schedule.expiration.endDateTime")
    length = parse_duration(expiration.get("duration"), "schedule.expiration.duration")
    if kind == "afterDateTime" and end is None:
        raise InvalidBody("schedule.expiration.endDateTime: required when type is afterDateTime.")
    if kind == "afterDuration":
        if length is None:
            raise InvalidBody("schedule.expiration.duration: required when type is "
                              "afterDuration.")
        end = (start or clock.now()) + length
    if kind in ("noExpiration", "notSpecified"):
        end = None
    return start, end


def _person(raw) -> User:
    user_id = reference_id(raw, "assignment.targetId", "user")
    user = User.objects.filter(pk=user_id, is_active=True).exclude(
        user_type=UserType.SERVICE).first()
    if user is None:
        raise InvalidBody(f"assignment.targetId: no user has the id '{raw}'.")
    return user


def _own_assignment_id(caller: User, assignment: dict) -> int:
    """assignment.id, or the caller's active assignment of assignment.accessPackageId."""
    if assignment.get("id") not in (None, ""):
        return reference_id(assignment["id"], "assignment.id", "assignment")
    if assignment.get("accessPackageId") in (None, ""):
        raise InvalidBody("assignment: give the id of the assignment (assignment.id) or of "
                          "its access package (assignment.accessPackageId).")
    package_id = reference_id(assignment["accessPackageId"], "assignment.accessPackageId",
                              "access package")
    found = assignments_active_for(caller).filter(access_package_id=package_id).first()
    if found is None:
        raise InvalidBody(f"assignment.accessPackageId: you have no active assignment of the "
                          f"access package '{package_id}'.")
    return found.pk


def request_from_body(caller: User, data: dict, *, visible_assignments) -> AssignmentRequest:
    """Create the request a POST body asks for; `visible_assignments` are the assignments the
    caller may name (others are refused as unknown)."""
    body = Body(data, REQUEST_PROPERTIES, "accessPackageAssignmentRequest")
    raw_type = body.data.get("requestType")
    if raw_type is None:
        raise InvalidBody(f"requestType: required; one of {', '.join(SUPPORTED_TYPES)}.")
    request_type = TYPE_ALIASES.get(raw_type, raw_type)
    if request_type not in SUPPORTED_TYPES:
        raise InvalidBody(f"requestType: '{raw_type}' is not supported; use one of "
                          f"{', '.join(SUPPORTED_TYPES)}.")
    for read_only in ("accessPackage", "requestor", "id", "state", "status"):
        if body.has(read_only):
            raise InvalidBody(f"{read_only}: read-only; name the access package, policy and "
                              "target in assignment.")
    if request_type in PERSON_TYPES and caller.user_type == UserType.SERVICE:
        raise InvalidBody(f"requestType: an application cannot make a '{request_type}' request "
                          "for itself; use adminAdd or adminRemove.")
    assignment = body.object("assignment")
    if assignment is None:
        raise InvalidBody("assignment: required.")
    reject_unknown(assignment, ASSIGNMENT_PROPERTIES, "assignment")
    for read_only in ("state", "status", "schedule"):
        if read_only in assignment:
            raise InvalidBody(f"assignment.{read_only}: read-only; give schedule at the top.")
    justification = body.text("justification")
    answers = parse_answers(body.items("answers"))
    start, end = parse_schedule(body.object("schedule"))

    def existing() -> int:
        assignment_id = _own_assignment_id(caller, assignment)
        if not visible_assignments.filter(pk=assignment_id).exists():
            raise InvalidBody(f"assignment.id: no assignment has the id '{assignment_id}', "
                              "or you may not see it.")
        return assignment_id

    def package_and_policy(policy_required: bool) -> tuple[int, int | None]:
        package = reference_id(assignment.get("accessPackageId"), "assignment.accessPackageId",
                               "access package")
        raw_policy = assignment.get("assignmentPolicyId")
        if raw_policy in (None, "") and not policy_required:
            return package, None
        return package, reference_id(raw_policy, "assignment.assignmentPolicyId", "policy")

    with body_names():
        match request_type:
            case "userAdd":
                if assignment.get("targetId") not in (None, "", str(caller.pk), caller.pk):
                    raise InvalidBody("assignment.targetId: a userAdd request is for yourself; "
                                      "an assignment manager uses adminAdd for others.")
                package, policy = package_and_policy(False)
                return request_submit(requestor=caller, access_package_id=package,
                                      policy_id=policy, justification=justification,
                                      answers=answers, start_at=start, end_at=end)
            case "userUpdate":
                if start is not None:
                    raise InvalidBody("schedule.startDateTime: an extension keeps the start; "
                                      "give only schedule.expiration.")
                return request_extend(requestor=caller, assignment_id=existing(),
                                      justification=justification, answers=answers,
                                      end_at=end)
            case "userRemove":
                return request_remove(actor=caller, assignment_id=existing(),
                                      justification=justification)
            case "adminAdd":
                if assignment.get("targetId") in (None, ""):
                    raise InvalidBody("assignment.targetId: required for adminAdd.")
                target = _person(assignment["targetId"])
                package, policy = package_and_policy(True)
                if answers:
                    raise InvalidBody("answers: questions are for requestors; adminAdd takes "
                                      "no answers.")
                return request_admin_add(actor=caller, access_package_id=package,
                                         policy_id=policy, target=target,
                                         justification=justification, start_at=start,
                                         end_at=end)
            case _:  # adminRemove
                if assignment.get("id") in (None, ""):
                    raise InvalidBody("assignment.id: required for adminRemove.")
                return request_remove(actor=caller, assignment_id=existing(),
                                      justification=justification, as_admin=True)

