"""The callback address of custom extensions that wait (Graph's assignmentRequests/resume).

The receiver POSTs Graph's resume body as JSON to the address it was given in the call's
`callbackUriPath`. The signed token in the address is the credential: it names one callout,
expires with the callout's timeout, and works once. Answers: 204 when the request goes on (or
ends, as the callback asked); otherwise a JSON error in Graph's shape, {"error": {"code",
"message"}}, and nothing changes: 403 for an address not made here, 400 for a body that is
not the callback data, 409 for a callout already answered or timed out, or a request that no
longer waits.
"""

import json

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from governance.connectors.extension_calls import callout_id_of_token
from governance.services.errors import Refused
from governance.services.extensions import extension_resume


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@csrf_exempt
@require_POST
def extension_callback(request, token: str):
    try:
        callout_id = callout_id_of_token(token)
    except Refused as refusal:
        return _error(refusal.http_status, refusal.code, refusal.message)
    try:
        body = json.loads(request.body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _error(400, "invalidBody", "The body must be JSON.")
    try:
        extension_resume(callout_id=callout_id, body=body)
    except Refused as refusal:
        return _error(refusal.http_status, refusal.code, refusal.message)
    return HttpResponse(status=204)
