"""Query counts of the SCIM endpoints: a page of people costs the same whatever its size, and
creating one person a fixed handful."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.scim.conftest import ENTERPRISE, user_body


def _queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code < 300, response.content
    return len(captured)


def test_a_page_of_people_costs_the_same_for_5_and_50(okta):
    boss = okta.post("/Users", user_body("boss@access.example")).json()["id"]
    for n in range(50):
        okta.post("/Users", user_body(f"p{n}@access.example",
                                      **{ENTERPRISE: {"manager": {"value": boss}}}))
    small = _queries(lambda: okta.get("/Users?count=5"))
    large = _queries(lambda: okta.get("/Users?count=50"))
    assert large == small <= 6, (small, large)


def test_creating_a_person_with_a_manager_is_a_fixed_number_of_queries(okta):
    boss = okta.post("/Users", user_body("boss@access.example")).json()["id"]
    count = _queries(lambda: okta.post("/Users", user_body(
        "ada@access.example", **{ENTERPRISE: {"manager": {"value": boss}}})))
    print("queries per POST /Users:", count)
    assert count <= 16, count


def test_a_group_page_costs_the_same_for_1_and_5_groups(okta):
    ids = [okta.post("/Users", user_body(f"m{n}@access.example")).json()["id"]
           for n in range(5)]
    for g in range(5):
        okta.post("/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                              "displayName": f"G{g}", "members": [{"value": i} for i in ids]})
    assert _queries(lambda: okta.get("/Groups?count=1")) == \
        _queries(lambda: okta.get("/Groups?count=5"))
