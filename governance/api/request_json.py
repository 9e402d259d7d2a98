"""The JSON of accessPackageAssignmentRequest, with its answers (accessPackageAnswerString)
and its schedule (who may read which requests: selectors.visibility.requests_visible_to).

A request always shows its `requestor` as accessPackageSubject (Graph v1.0 has no `target` on
a request: $filter=target/objectId eq '…' finds it); `accessPackage` and `assignment` come with
$expand.
"""

from django.db.models import Prefetch, QuerySet

from governance.choices import QuestionKind, RequestState, RequestType
from governance.models import AssignmentRequest, RequestAnswer

from . import odata
from .assignment_json import assignment_json, schedule_json
from .base import EM, GraphType
from .graph_json import instant
from .shapes import package_json, sid, subject_json

REQUESTS = f"{EM}/assignmentRequests"
REQUEST_WHAT = "accessPackageAssignmentRequest"  # in "No … has the id" answers

REQUEST_STATES = [value for value, _label in RequestState.choices]
REQUEST_TYPES = [value for value, _label in RequestType.choices]

REQUEST_FIELDS = {
    "id": odata.ident("pk"),
    "requestType": odata.enum("request_type", REQUEST_TYPES),
    "state": odata.enum("state", REQUEST_STATES),
    "status": odata.text("status"),
    "justification": odata.text("justification"),
    "createdDateTime": odata.instant("created_at"),
    "completedDateTime": odata.instant("completed_at"),
    "accessPackage/id": odata.ident("access_package_id"),
    "assignment/id": odata.ident("assignment_id"),
    "requestor/objectId": odata.ident("requestor_id"),
    "requestor/id": odata.ident("requestor_id"),
    "requestor/email": odata.text("requestor__email"),
    "target/objectId": odata.ident("target_id"),
    "target/id": odata.ident("target_id"),
    "target/email": odata.text("target__email"),
}

REQUEST_EXPANDABLE = ("accessPackage", "assignment", "requestor")


def _question_json(question) -> dict:
    choice = question.kind == QuestionKind.CHOICE
    item = {
        "@odata.type": "#microsoft.graph." + ("accessPackageMultipleChoiceQuestion" if choice
                                             else "accessPackageTextInputQuestion"),
        "id": sid(question.pk),
        "sequence": question.sequence,
        "isRequired": question.is_required,
        "isAnswerEditable": question.is_answer_editable,
        "text": question.text,
    }
    if choice:
        item["isMultipleSelectionAllowed"] = question.allows_multiple_selection
    else:
        item["isSingleLineQuestion"] = question.is_single_line
        item["regexPattern"] = question.regex_pattern or None
    return item


def answers_json(answers) -> list[dict]:
    """One accessPackageAnswerString per value (a multiple choice gives one per choice)."""
    items = []
    for answer in answers:
        question = answer.question
        offered = {choice.get("value"): choice.get("text") for choice in question.choices or []}
        values = answer.values or [answer.value]
        for value in values:
            items.append({
                "@odata.type": "#microsoft.graph.accessPackageAnswerString",
                "value": value,
                "displayValue": offered.get(value, answer.display_value)
                if len(values) > 1 else answer.display_value,
                "answeredQuestion": _question_json(question),
            })
    return items


def request_schedule_json(request: AssignmentRequest) -> dict:
    schedule = schedule_json(request.schedule_start_at, request.schedule_end_at)
    if request.schedule_end_at is None:
        # The requestor chose no end: the policy's expiration applies.
        schedule["expiration"]["type"] = "notSpecified"
    return schedule


def request_json(request: AssignmentRequest, expand=()) -> dict:
    item = {
        "id": sid(request.pk),
        "requestType": request.request_type,
        "state": request.state,
        "status": request.status or request.get_state_display(),
        "createdDateTime": instant(request.created_at),
        "completedDateTime": instant(request.completed_at),
        "justification": request.justification,
        "schedule": request_schedule_json(request),
        "answers": answers_json(request.answers.all()),
        "customExtensionCalloutInstances": [],
        "requestor": subject_json(request.requestor),
    }
    if "accessPackage" in expand:
        item["accessPackage"] = package_json(request.access_package)
    if "assignment" in expand:
        item["assignment"] = (assignment_json(request.assignment)
                              if request.assignment is not None else None)
    return item


def request_prefetch(queryset: QuerySet, expand) -> QuerySet:
    answers = RequestAnswer.objects.select_related("question")
    return (queryset.select_related("requestor", "access_package", "assignment")
            .prefetch_related(Prefetch("answers", queryset=answers)))


REQUEST = GraphType("accessPackageAssignmentRequest", REQUEST_FIELDS, request_json,
                    expandable=REQUEST_EXPANDABLE, prefetch=request_prefetch)

