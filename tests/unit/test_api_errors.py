"""Graph error bodies: each exception the API meets becomes {"error": {...}} with the
right HTTP status and code."""

import re

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from governance.api.errors import GraphError, error_body, graph_exception_handler
from governance.api.odata import ODataError
from governance.services import errors as refusals


def handle(exc, **headers):
    request = Request(APIRequestFactory().get("/v1.0/users", **headers))
    return graph_exception_handler(exc, {"request": request, "view": None})


@pytest.mark.parametrize("exc, status, code", [
    (drf.ParseError("JSON parse error - Expecting value"), 400, "BadRequest"),
    (drf.NotAuthenticated(), 401, "InvalidAuthenticationToken"),
    (drf.AuthenticationFailed("The token has expired."), 401, "InvalidAuthenticationToken"),
    (drf.PermissionDenied(), 403, "Authorization_RequestDenied"),
    (DjangoPermissionDenied(), 403, "Authorization_RequestDenied"),
    (drf.NotFound(), 404, "Request_ResourceNotFound"),
    (Http404(), 404, "Request_ResourceNotFound"),
    (drf.MethodNotAllowed("DELETE"), 405, "Request_BadRequest"),
    (drf.UnsupportedMediaType("text/plain"), 415, "BadRequest"),
])
def test_drf_exceptions(exc, status, code):
    response = handle(exc)
    assert response.status_code == status
    error = response.data["error"]
    assert error["code"] == code and error["message"]
    assert set(error) == {"code", "message", "innerError"}


def test_shape_date_and_request_id():
    response = handle(drf.NotFound("No catalog 7."), HTTP_CLIENT_REQUEST_ID="abc-123")
    inner = response.data["error"]["innerError"]
    assert response.data["error"]["message"] == "No catalog 7."
    assert inner["request-id"] == "abc-123" == response["request-id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", inner["date"])
    generated = error_body("BadRequest", "x")["error"]["innerError"]["request-id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", generated)


def test_validation_error_names_the_field():
    response = handle(drf.ValidationError({"displayName": ["This field is required."]}))
    assert response.status_code == 400
    assert response.data["error"] == {**response.data["error"], "code": "BadRequest",
                                      "message": "displayName: This field is required."}
    nested = handle(drf.ValidationError({"assignment": {"accessPackageId": ["Not valid."]}}))
    assert nested.data["error"]["message"] == "assignment.accessPackageId: Not valid."
    plain = handle(drf.ValidationError("Nothing to do."))
    assert plain.data["error"]["message"] == "Nothing to do."


@pytest.mark.parametrize("exc, status, code", [
    (refusals.NotFound("No such package."), 404, "notFound"),
    (refusals.NotAllowed("Only the catalog's owners may do this."), 403, "notAllowed"),
    (refusals.OutOfScope("Not for you."), 403, "outOfScope"),
    (refusals.InvalidState("The stage was already decided.", code="stageDecided"), 409,
     "stageDecided"),
    (refusals.Duplicate("The package already has this role."), 409, "duplicate"),
    (refusals.SeparationOfDuties("Incompatible with Finance."), 409, "separationOfDuties"),
    (refusals.InvalidInput("Pick a policy."), 400, "invalidInput"),
    (refusals.Refused("No."), 400, "refused"),
])
def test_service_refusals_keep_their_code_and_message(exc, status, code):
    response = handle(exc)
    assert response.status_code == status
    assert response.data["error"]["code"] == code
    assert response.data["error"]["message"] == exc.message


def test_invalid_input_names_its_field():
    response = handle(refusals.InvalidInput("Must be positive.", field="durationInDays"))
    assert response.data["error"]["message"] == "durationInDays: Must be positive."


def test_odata_and_graph_errors():
    response = handle(ODataError("Invalid filter clause: unknown property 'x'."))
    assert (response.status_code, response.data["error"]["code"]) == (400, "BadRequest")
    assert "unknown property 'x'" in response.data["error"]["message"]
    conflict = handle(GraphError("Already there.", code="Conflict", status=409))
    assert (conflict.status_code, conflict.data["error"]["code"]) == (409, "Conflict")


def test_an_unexpected_error_is_a_graph_500_logged_with_its_request_id(caplog):
    with caplog.at_level("ERROR", logger="governance.api.errors"):
        response = handle(ValueError("secret detail"), HTTP_CLIENT_REQUEST_ID="abc-123")
    assert response.status_code == 500
    error = response.data["error"]
    assert error["code"] == "InternalServerError"
    assert "secret detail" not in error["message"] and "request id" in error["message"]
    assert error["innerError"]["request-id"] == "abc-123"
    [record] = caplog.records
    assert "GET /v1.0/users failed (request-id abc-123): ValueError" in record.getMessage()
    assert record.exc_info[0] is ValueError


def test_a_lost_database_is_a_graph_503_with_retry_after(caplog):
    from django.db import OperationalError

    with caplog.at_level("ERROR", logger="governance.api.errors"):
        response = handle(OperationalError("connection to server at 10.0.0.5 refused"))
    assert (response.status_code, response["Retry-After"]) == (503, "10")
    assert response.data["error"]["code"] == "ServiceUnavailable"
    assert "10.0.0.5" not in response.data["error"]["message"]
    assert "OperationalError" in caplog.records[0].getMessage()
