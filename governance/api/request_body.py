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
from dataclasses import dataclass
from datetime import datetime

from governance import clock
from governance.choices import UserType
from governance.models import AssignmentRequest, User
from governance.selectors.requests import assignments_active_for
from governance.services.errors import NotFound
from governance.services.requests import (
    request_admin_add,
    request_extend,
    request_remove,
    request_submit,
)

from .base import reference_id
from .graph_json import (
    Body,
    InvalidBody,
    camel_keys,
    parse_duration,
    parse_enum,
    parse_instant,
    reject_unknown,
)

# Graph's examples also write the assignment as "accessPackageAssignment".
REQUEST_PROPERTIES = ("requestType", "assignment", "accessPackageAssignment", "justification",
                      "answers", "schedule", "accessPackage", "requestor", "id", "state",
                      "status")
ASSIGNMENT_PROPERTIES = ("id", "accessPackageId", "assignmentPolicyId", "targetId", "target",
                         "state", "status", "schedule")
SUBJECT_PROPERTIES = ("id", "objectId", "email", "displayName", "principalName", "subjectType")
SUPPORTED_TYPES = ("userAdd", "userUpdate", "userRemove", "adminAdd", "adminRemove")
# Compared without case (Graph's examples write "UserAdd"); older documents say "userExtend".
TYPE_NAMES = {name.lower(): name for name in SUPPORTED_TYPES} | {"userextend": "userUpdate"}
PERSON_TYPES = ("userAdd", "userUpdate", "userRemove")

# The services' "not found" codes that concern a property of the body: a 400 naming it.
_NOT_FOUND = {"packageNotFound": "assignment.accessPackageId",
              "policyNotFound": "assignment.assignmentPolicyId",
              "assignmentNotFound": "assignment.id", "userDeleted": "assignment.targetId"}


@contextmanager
def missing_as_bad_body():
    """A thing the body names that does not exist is the body's fault: a 400 naming the
    property (the error handler names the properties of other refusals, graph_paths)."""
    try:
        yield
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
    # The SDK's examples send "stopDateTime": null beside startDateTime.
    reject_unknown(raw, ("startDateTime", "stopDateTime", "expiration", "recurrence"),
                   "schedule")
    start = parse_instant(raw.get("startDateTime"), "schedule.startDateTime")
    if raw.get("recurrence") is not None:
        raise InvalidBody("schedule.recurrence: recurring schedules are not supported.")
    expiration = raw.get("expiration")
    if expiration is None:
        return start, parse_instant(raw.get("stopDateTime"), "schedule.stopDateTime")
    reject_unknown(expiration, ("type", "endDateTime", "duration"), "schedule.expiration")
    end = parse_instant(expiration.get("endDateTime"), "schedule.expiration.endDateTime")
    length = parse_duration(expiration.get("duration"), "schedule.expiration.duration")
    # Without a type, what is given says it (the SDK leaves unset properties out, or null).
    implied = "afterDateTime" if end else "afterDuration" if length else "notSpecified"
    kind = parse_enum(expiration.get("type") or implied, "schedule.expiration.type",
                      ("notSpecified", "noExpiration", "afterDateTime", "afterDuration"))
    if kind == "afterDateTime" and end is None:
        raise InvalidBody("schedule.expiration.endDateTime: required when type is afterDateTime.")
    if kind == "afterDuration":
        if length is None:
            raise InvalidBody("schedule.expiration.duration: required when type is "
                              "afterDuration.")
        end = (start or clock.now()) + length
    if kind in ("noExpiration", "notSpecified"):
        if end is not None or length is not None:
            raise InvalidBody(f"schedule.expiration.type: '{kind}' takes no endDateTime or "
                              "duration.")
        end = None
    return start, end


def _target(caller: User, assignment: dict) -> User | None:
    """The person `assignment.targetId` or `assignment.target` (objectId, id or email) names;
    None when neither is given."""
    subject = assignment.get("target")
    if subject is not None:
        reject_unknown(subject, SUBJECT_PROPERTIES, "assignment.target")
        raw = subject.get("objectId") or subject.get("id")
        if raw in (None, "") and subject.get("email"):
            user = _people().filter(email__iexact=str(subject["email"]).strip()).first()
            if user is None:
                raise InvalidBody(f"assignment.target.email: nobody in the directory has the "
                                  f"email '{subject['email']}'; invite them first.")
            return user
        where = "assignment.target.objectId"
    else:
        raw, where = assignment.get("targetId"), "assignment.targetId"
    if raw in (None, ""):
        return None
    if str(raw).strip() == str(caller.pk):
        return caller
    user = _people().filter(pk=reference_id(raw, where, "user")).first()
    if user is None:
        raise InvalidBody(f"{where}: no user has the id '{raw}'.")
    return user


def _people():
    return User.objects.filter(is_active=True).exclude(user_type=UserType.SERVICE)


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


@dataclass
class Asked:
    """A POST body, checked: what the request services are given."""

    request_type: str
    assignment: dict
    justification: str
    answers: dict
    start: datetime | None
    end: datetime | None


def parse_request(caller: User, data: dict) -> Asked:
    # Microsoft's Python SDK sends properties it has no field for with snake_case names
    # ("access_package_id"); they are read as Graph's camelCase.
    body = Body(camel_keys(data), REQUEST_PROPERTIES, "accessPackageAssignmentRequest")
    raw_type = body.data.get("requestType")
    if raw_type is None:
        raise InvalidBody(f"requestType: required; one of {', '.join(SUPPORTED_TYPES)}.")
    request_type = TYPE_NAMES.get(str(raw_type).lower())
    if request_type is None:
        raise InvalidBody(f"requestType: '{raw_type}' is not supported; use one of "
                          f"{', '.join(SUPPORTED_TYPES)}.")
    for read_only in ("accessPackage", "requestor", "id", "state", "status"):
        if body.has(read_only):
            raise InvalidBody(f"{read_only}: read-only; name the access package, policy and "
                              "target in assignment.")
    if request_type in PERSON_TYPES and caller.user_type == UserType.SERVICE:
        raise InvalidBody(f"requestType: an application cannot make a '{request_type}' request "
                          "for itself; use adminAdd or adminRemove.")
    if body.has("assignment") and body.has("accessPackageAssignment"):
        raise InvalidBody("accessPackageAssignment: give assignment or accessPackageAssignment, "
                          "not both.")
    assignment = body.object("accessPackageAssignment" if body.has("accessPackageAssignment")
                             else "assignment")
    if assignment is None:
        raise InvalidBody("assignment: required.")
    reject_unknown(assignment, ASSIGNMENT_PROPERTIES, "assignment")
    for read_only in ("state", "status", "schedule"):
        if assignment.get(read_only) is not None:
            raise InvalidBody(f"assignment.{read_only}: read-only; give schedule at the top.")
    start, end = parse_schedule(body.object("schedule"))
    return Asked(request_type, assignment, body.text("justification"),
                 parse_answers(body.items("answers")), start, end)


def _package_and_policy(assignment: dict, *, policy_required: bool) -> tuple[int, int | None]:
    package = reference_id(assignment.get("accessPackageId"), "assignment.accessPackageId",
                           "access package")
    raw_policy = assignment.get("assignmentPolicyId")
    if raw_policy in (None, "") and not policy_required:
        return package, None
    return package, reference_id(raw_policy, "assignment.assignmentPolicyId", "policy")


def request_from_body(caller: User, data: dict, *, visible_assignments) -> AssignmentRequest:
    """Create the request a POST body asks for; `visible_assignments` are the assignments the
    caller may name (others are refused as unknown)."""
    asked = parse_request(caller, data)
    assignment = asked.assignment

    def existing() -> int:
        assignment_id = _own_assignment_id(caller, assignment)
        if not visible_assignments.filter(pk=assignment_id).exists():
            raise InvalidBody(f"assignment.id: no assignment has the id '{assignment_id}', "
                              "or you may not see it.")
        return assignment_id

    def for_caller_only() -> None:
        target = _target(caller, assignment)
        if target is not None and target != caller:
            raise InvalidBody(f"assignment.targetId: a {asked.request_type} request is for "
                              "yourself; an assignment manager uses adminAdd for others.")

    with missing_as_bad_body():
        match asked.request_type:
            case "userAdd":
                for_caller_only()
                package, policy = _package_and_policy(assignment, policy_required=False)
                return request_submit(requestor=caller, access_package_id=package,
                                      policy_id=policy, justification=asked.justification,
                                      answers=asked.answers, start_at=asked.start,
                                      end_at=asked.end)
            case "userUpdate":
                for_caller_only()
                if asked.start is not None:
                    raise InvalidBody("schedule.startDateTime: an extension keeps the start; "
                                      "give only schedule.expiration.")
                return request_extend(requestor=caller, assignment_id=existing(),
                                      justification=asked.justification, answers=asked.answers,
                                      end_at=asked.end)
            case "userRemove":
                return request_remove(actor=caller, assignment_id=existing(),
                                      justification=asked.justification)
            case "adminAdd":
                target = _target(caller, assignment)
                if target is None:
                    raise InvalidBody("assignment.targetId: required for adminAdd.")
                package, policy = _package_and_policy(assignment, policy_required=True)
                if asked.answers:
                    raise InvalidBody("answers: questions are for requestors; adminAdd takes "
                                      "no answers.")
                return request_admin_add(actor=caller, access_package_id=package,
                                         policy_id=policy, target=target,
                                         justification=asked.justification,
                                         start_at=asked.start, end_at=asked.end)
            case _:  # adminRemove
                if assignment.get("id") in (None, ""):
                    raise InvalidBody("assignment.id: required for adminRemove.")
                return request_remove(actor=caller, assignment_id=existing(),
                                      justification=asked.justification, as_admin=True)
