"""A fuzz pass over the SCIM endpoints: whatever JSON arrives, the answer is a SCIM response
below 500 (hypothesis draws bodies around the attributes clients send, and arbitrary ones)."""

import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.scim.conftest import ENTERPRISE, GROUP, PATCH, USER

SCALARS = st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=30)
JSON = st.recursive(SCALARS, lambda children: st.lists(children, max_size=3)
                    | st.dictionaries(st.text(max_size=12), children, max_size=4), max_leaves=12)
ATTRIBUTES = ["userName", "active", "emails", "name", "displayName", "externalId", "title",
              "userType", ENTERPRISE, "members", "id", "meta", "password"]
USERISH = st.fixed_dictionaries({"schemas": st.just([USER, ENTERPRISE])},
                                optional={key: JSON for key in ATTRIBUTES})
PATHS = st.sampled_from(["active", "userName", "emails[type eq \"work\"].value", "members",
                         f"{ENTERPRISE}:manager", "name.givenName", "members[value eq \"1\"]",
                         "not a path", ""]) | st.text(max_size=20)
OPERATIONS = st.lists(st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "Replace", "remove", "move", ""]) | st.text(max_size=8)},
    optional={"path": PATHS, "value": JSON}), max_size=3)
PATCHES = st.fixed_dictionaries({"schemas": st.just([PATCH]), "Operations": OPERATIONS}) | JSON


def _below_500(response):
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if response.content:
        json.loads(response.content)


@pytest.fixture
def targets(okta):
    person = okta.post("/Users", {"schemas": [USER], "userName": "fuzz@access.example"})
    group = okta.post("/Groups", {"schemas": [GROUP], "displayName": "Fuzz"})
    return okta, person.json()["id"], group.json()["id"]


FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@FUZZ
@given(body=USERISH | JSON)
def test_creating_and_replacing_never_answers_5xx(targets, body):
    okta, person_id, group_id = targets
    _below_500(okta.post("/Users", body))
    _below_500(okta.put(f"/Users/{person_id}", body))
    _below_500(okta.post("/Groups", body))


@FUZZ
@given(body=PATCHES)
def test_patching_never_answers_5xx(targets, body):
    okta, person_id, group_id = targets
    _below_500(okta.call("patch", f"/Users/{person_id}", body))
    _below_500(okta.call("patch", f"/Groups/{group_id}", body))


@FUZZ
@given(query=st.text(max_size=40), start=st.text(max_size=5), count=st.text(max_size=5))
def test_searching_never_answers_5xx(targets, query, start, count):
    okta, _person_id, _group_id = targets
    params = urlencode({'filter': query, 'startIndex': start, 'count': count})
    _below_500(okta.get(f"/Users?{params}"))
