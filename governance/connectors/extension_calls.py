"""What a custom extension's call carries, and what its callback may say.

- The callback address: signed with its own salt, naming one callout, expiring with its
  timeout (`callback_path`, `callout_id_of_token`).
- The body sent to the receiver: Graph's accessPackageAssignmentRequestCalloutData (stages of
  a request) or accessPackageAssignmentCalloutData (stages of an assignment), fixed when the
  event happens (`callout_body`).
- The callback's body: Graph's resume body, {"source", "type", "data":
  accessPackageAssignmentRequestCallbackData}, whose optional `state` (Denied or Canceled,
  only at the assignmentRequestCreated stage) ends the request (`callback_outcome`).
"""

from datetime import datetime, timedelta

import isodate
from django.conf import settings
from django.core import signing
from django.urls import reverse

from governance import clock
from governance.choices import CustomExtensionStage, RequestState
from governance.models import Assignment, AssignmentRequest, ExtensionCallout, User
from governance.security import secrets
from governance.services.errors import InvalidInput, InvalidState, NotAllowed

SALT = "governance.extension-callback"
CALLBACK_TYPE = "microsoft.graph.accessPackageAssignmentRequestCallbackData"


def duration_text(value: timedelta) -> str:
    """"1 hour", "2 days 6 hours", "30 minutes"."""
    days, rest = divmod(int(value.total_seconds()) // 60, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{count} {unit}{'s' if count != 1 else ''}"
             for count, unit in ((days, "day"), (hours, "hour"), (minutes, "minute")) if count]
    return " ".join(parts) or "less than a minute"


# The callback address: signed, naming one callout, expiring with its timeout. The key is
# SECRETS_KEY's, for this purpose alone: SECRET_KEY (which signs the approval links) is not
# enough to forge one.


def _signer() -> signing.Signer:
    newest, *older = secrets.signing_keys(SALT)
    return signing.Signer(key=newest, fallback_keys=older, salt=SALT)


def callback_path(callout: ExtensionCallout) -> str:
    token = _signer().sign_object(
        {"c": callout.pk, "e": int(callout.callback_due_at.timestamp())}, compress=True)
    return reverse("extension_callback", args=[token])


def callout_id_of_token(token: str) -> int:
    """The callout a callback address names.

    :raises NotAllowed: the address was not made here (or was altered).
    :raises InvalidState: its timeout has passed.
    """
    try:
        payload = _signer().unsign_object(token)
    except signing.BadSignature:
        payload = None
    if not isinstance(payload, dict) or not all(isinstance(payload.get(key), int)
                                                for key in ("c", "e")):
        raise NotAllowed("This callback address is not valid.", code="invalidCallbackToken")
    if clock.now().timestamp() >= payload["e"]:
        raise InvalidState("The callback came after its timeout; the request no longer waits "
                           "for it.", code="callbackTimedOut")
    return payload["c"]


# The body sent to the receiver (Graph's access package callout data).


def _person(user: User) -> dict:
    return {"id": str(user.pk), "displayName": user.display_name, "email": user.email}


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _request_data(request: AssignmentRequest) -> dict:
    return {
        "accessPackageAssignmentRequestId": str(request.pk),
        "requestType": request.request_type, "state": request.state,
        "justification": request.justification,
        "requestor": _person(request.requestor), "target": _person(request.target),
        "schedule": {"startDateTime": _when(request.schedule_start_at),
                     "endDateTime": _when(request.schedule_end_at)},
        "answers": [{"answeredQuestion": {"id": str(answer.question_id),
                                          "text": answer.question.text},
                     "value": answer.value, "displayValue": answer.display_value}
                    for answer in request.answers.select_related("question")],
    }


def _assignment_data(assignment: Assignment) -> dict:
    return {"id": str(assignment.pk), "state": assignment.state, "status": assignment.status,
            "target": _person(assignment.target),
            "schedule": {"startDateTime": _when(assignment.start_at),
                         "endDateTime": _when(assignment.expires_at)}}


def callout_body(callout: ExtensionCallout) -> dict:
    """What the receiver gets: Graph's access package (request) callout data, with the
    callback address and timeout when the callout waits."""
    request, assignment = callout.request, callout.assignment
    package = (assignment or request).access_package
    data = {
        "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestCalloutData" if request
        else "#microsoft.graph.accessPackageAssignmentCalloutData",
        "stage": callout.stage, "customExtensionStageInstanceId": str(callout.pk),
        "accessPackage": {"id": str(package.pk), "displayName": package.display_name},
        "accessPackageCatalog": {"id": str(package.catalog_id),
                                 "displayName": package.catalog.display_name},
    }
    if request is not None:
        data.update(_request_data(request))
    if assignment is not None:
        data["assignment"] = _assignment_data(assignment)
    if callout.waits:
        path = callback_path(callout)
        data.update(callbackUriPath=path, callbackUri=f"{settings.SITE_URL}{path}",
                    callbackConfiguration={
                        "@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration",
                        "timeoutDuration": isodate.duration_isoformat(
                            callout.callback_due_at - callout.created_at),
                        "dueDateTime": callout.callback_due_at.isoformat()})
    return {"type": f"microsoft.graph.accessPackageCustomExtensionStage.{callout.stage}",
            "source": settings.SITE_URL, "data": data}



def callback_outcome(callout: ExtensionCallout, body) -> tuple[str | None, str]:
    """(state asked for: None, denied or canceled; the detail) of a Graph resume body."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object with a “data” object, as Graph's "
                           "resume action takes.", code="invalidBody")
    kind = str(data.get("@odata.type") or CALLBACK_TYPE).lstrip("#")
    if kind != CALLBACK_TYPE:
        raise InvalidInput(f"The data must be a {CALLBACK_TYPE}, not {kind}.",
                           code="invalidBody")
    if data.get("stage") not in (None, callout.stage):
        raise InvalidInput(f"This callback is for the stage {data['stage']}, but the callout "
                           f"was made at {callout.stage}.", code="stageMismatch")
    instance = data.get("customExtensionStageInstanceId")
    if instance not in (None, str(callout.pk), callout.pk):
        raise InvalidInput("The customExtensionStageInstanceId is not this callout's.",
                           code="instanceMismatch")
    detail = " ".join(str(data.get("customExtensionStageInstanceDetail") or "").split())
    state = str(data.get("state") or "").strip().lower() or None
    if state not in (None, RequestState.DENIED, RequestState.CANCELED):
        raise InvalidInput("The state of a callback can only be Denied or Canceled.",
                           code="invalidState")
    if state and callout.stage != CustomExtensionStage.REQUEST_CREATED:
        raise InvalidInput("Only a callback at the assignmentRequestCreated stage can deny or "
                           "cancel a request (as in Microsoft Graph).", code="invalidState")
    return state, detail[:1000]
