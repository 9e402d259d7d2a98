"""Graph-shaped error bodies and the DRF exception handler that produces them.

Every refusal the API gives reads as Microsoft Graph's do::

    {"error": {"code": "BadRequest", "message": "...",
               "innerError": {"date": "2026-01-01T00:00:00Z", "request-id": "..."}}}

Wire it once in settings (not done yet)::

    REST_FRAMEWORK = {"EXCEPTION_HANDLER": "governance.api.errors.graph_exception_handler"}

The handler covers DRF's own exceptions, the services' ``Refused`` family
(governance.services.errors) and ``GraphError`` (which ``odata.ODataError`` and the
body checks of ``graph_json`` raise). A lost database answers 503 ServiceUnavailable with
Retry-After; anything else 500 InternalServerError, logged with its request id. Neither
says more than that to the caller.
"""

import logging
import uuid

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions as drf
from rest_framework.response import Response

from governance.services import errors as refusals

from .graph_paths import refusal_message

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 10


class GraphError(Exception):
    """A refusal the API answers directly: HTTP status, Graph code, message for people."""

    status = 400
    code = "BadRequest"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status

    def __str__(self):
        return self.message


def error_body(code: str, message: str, *, request_id: str | None = None) -> dict:
    date = timezone.now().replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"error": {"code": code, "message": message,
                      "innerError": {"date": date, "request-id": request_id or str(uuid.uuid4())}}}


def error_response(status: int, code: str, message: str, *, request=None) -> Response:
    request_id = None
    if request is not None:
        request_id = request.headers.get("client-request-id") or request.headers.get("request-id")
    response = Response(error_body(code, message, request_id=request_id), status=status)
    response["request-id"] = response.data["error"]["innerError"]["request-id"]
    return response


# DRF exception class → Graph code; the status is the exception's own.
_DRF_CODES = [
    (drf.ParseError, "BadRequest"),
    (drf.NotAuthenticated, "InvalidAuthenticationToken"),
    (drf.AuthenticationFailed, "InvalidAuthenticationToken"),
    (drf.PermissionDenied, "Authorization_RequestDenied"),
    (drf.NotFound, "Request_ResourceNotFound"),
    (drf.MethodNotAllowed, "Request_BadRequest"),
    (drf.NotAcceptable, "BadRequest"),
    (drf.UnsupportedMediaType, "BadRequest"),
    (drf.Throttled, "TooManyRequests"),
]

# Refused subclass → status; the Graph code is the refusal's own ``code``.
_REFUSAL_STATUS = [
    (refusals.NotFound, 404),
    (refusals.NotAllowed, 403),
    (refusals.OutOfScope, 403),
    (refusals.InvalidInput, 400),
    (refusals.InvalidState, 409),
    (refusals.Duplicate, 409),
    (refusals.SeparationOfDuties, 409),
]


def _validation_message(detail, path: str = "") -> str:
    """The first problem of a ValidationError's detail, naming its field."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            return _validation_message(value, f"{path}.{name}" if path and name else path or name)
    if isinstance(detail, list) and detail:
        return _validation_message(detail[0], path)
    text = str(detail)
    return f"{path}: {text}" if path else text


def graph_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: a Graph error body, or None for a 500."""
    request = context.get("request") if context else None
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, GraphError):
        return error_response(exc.status, exc.code, exc.message, request=request)
    if isinstance(exc, refusals.Refused):
        status = next((s for cls, s in _REFUSAL_STATUS if isinstance(exc, cls)), exc.http_status)
        return error_response(status, exc.code, refusal_message(exc), request=request)
    if isinstance(exc, drf.ValidationError):
        return error_response(400, "BadRequest", _validation_message(exc.detail), request=request)
    if isinstance(exc, drf.APIException):
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "BadRequest")
        response = error_response(exc.status_code, code, str(exc.detail), request=request)
        if getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))
        return response
    return _unexpected(exc, request)


def _unexpected(exc, request) -> Response:
    if isinstance(exc, (OperationalError, InterfaceError)):
        response = error_response(503, "ServiceUnavailable", "The service is unavailable for a "
                                  "moment; try again shortly.", request=request)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    else:
        response = error_response(500, "InternalServerError", "Something went wrong on our "
                                  "side. Quote the request id when you report it.",
                                  request=request)
    logger.error("%s %s failed (request-id %s): %s", getattr(request, "method", "?"),
                 getattr(request, "path", "?"), response["request-id"], type(exc).__name__,
                 exc_info=exc)
    return response
