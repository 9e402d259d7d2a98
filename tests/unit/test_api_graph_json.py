"""Graph's JSON: camelCase, ISO 8601 instants and durations, and refusals of bodies that
are malformed, carry unknown properties or bad values, each naming the field."""

import datetime

import pytest

from governance.api.errors import graph_exception_handler
from governance.api.graph_json import (
    InvalidBody,
    camel_keys,
    duration,
    instant,
    load_body,
    parse_duration,
    parse_enum,
    parse_instant,
    reject_unknown,
)
from governance.api.graph_paths import camel, snake


def refused(action, *words):
    with pytest.raises(InvalidBody) as caught:
        action()
    assert caught.value.status == 400 and caught.value.code == "BadRequest"
    for word in words:
        assert word in caught.value.message, caught.value.message
    return caught.value


def test_names():
    assert camel("is_externally_visible") == "isExternallyVisible"
    assert camel("id") == "id"
    assert snake("isExternallyVisible") == "is_externally_visible"
    assert camel_keys({"display_name": "x", "@odata.type": "#t", "stages": [{"is_ok": 1}]}) == {
        "displayName": "x", "@odata.type": "#t", "stages": [{"isOk": 1}]}


def test_instants_are_utc_with_z():
    cet = datetime.timezone(datetime.timedelta(hours=1))
    assert instant(datetime.datetime(2026, 1, 31, 10, 30, tzinfo=cet)) == "2026-01-31T09:30:00Z"
    assert instant(datetime.datetime(2026, 1, 31, 9, 30, 0, 500000, tzinfo=datetime.UTC)) == (
        "2026-01-31T09:30:00.5Z")
    assert instant(None) is None


def test_durations():
    assert duration(datetime.timedelta(days=7)) == "P7D"
    assert duration(datetime.timedelta(hours=12)) == "PT12H"
    assert duration(None) is None
    assert parse_duration("P14D", "durationBeforeEscalation") == datetime.timedelta(days=14)
    assert parse_duration("PT0S", "x", allow_zero=True) == datetime.timedelta(0)
    assert parse_duration(None, "x") is None


@pytest.mark.parametrize("value, words", [
    ("7 days", ["expiration.duration", "'7 days' is not an ISO 8601 duration"]),
    ("P1M", ["months or years", "P30D"]),
    ("PT0S", ["must be a positive duration"]),
    (7, ["expected an ISO 8601 duration string"]),
    # Past what a timedelta holds, or what any date can be moved by: 400s, never 500s.
    ("P99999999999D", ["'P99999999999D' is far too long"]),
    ("P999999999D", ["'P999999999D' is far too long"]),
])
def test_bad_durations_name_the_field(value, words):
    refused(lambda: parse_duration(value, "expiration.duration"), *words)


def test_parse_instant():
    assert parse_instant("2026-01-31T09:30:00Z", "startDateTime") == datetime.datetime(
        2026, 1, 31, 9, 30, tzinfo=datetime.UTC)
    assert parse_instant(None, "startDateTime") is None
    refused(lambda: parse_instant("31/01/2026", "startDateTime"), "startDateTime",
            "not an ISO 8601 date-time")
    refused(lambda: parse_instant("2026-01-31T09:30:00", "startDateTime"), "no time zone")
    refused(lambda: parse_instant(20260131, "startDateTime"), "expected an ISO 8601")
    assert parse_instant("9998-12-31T23:00:00Z", "endDateTime").year == 9998
    for late in ("9999-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00"):
        refused(lambda late=late: parse_instant(late, "endDateTime"), "endDateTime",
                "too far in the future")


def test_parse_enum():
    assert parse_enum("userAdd", "requestType", ["userAdd", "adminAdd"]) == "userAdd"
    refused(lambda: parse_enum("UserAdd", "requestType", ["userAdd", "adminAdd"]),
            "requestType: 'UserAdd' is not one of userAdd, adminAdd")


def test_load_body():
    assert load_body(b'{"displayName": "Sales"}') == {"displayName": "Sales"}
    refused(lambda: load_body(b'{"displayName": '), "not valid JSON", "line 1")
    refused(lambda: load_body(b""), "empty")
    refused(lambda: load_body("[1, 2]"), "must be a JSON object")
    refused(lambda: load_body(b"\xff"), "not UTF-8")


def test_reject_unknown():
    reject_unknown({"displayName": "x", "@odata.type": "#t"}, {"displayName"}, "accessPackage")
    error = refused(lambda: reject_unknown({"displayName": "x", "colour": 1, "age": 2},
                                           {"displayName"}, "accessPackage"),
                    "accessPackage has no property 'age', 'colour'")
    response = graph_exception_handler(error, {})
    assert response.status_code == 400
    assert response.data["error"]["code"] == "BadRequest"
    assert response.data["error"]["message"] == error.message
    refused(lambda: reject_unknown(["x"], {"displayName"}, "accessPackage"), "JSON object")
