"""Bad input gets a SCIM error (RFC 7644 §3.12) with its scimType, never a 500, and nothing
half-written; a SCIM token opens only SCIM, an API token only the Graph API."""

import pytest
from rest_framework.test import APIClient

from governance.choices import ApiPermission
from governance.models import AuditEvent, User
from governance.services.api_tokens import api_client_create
from governance.services.provisioning_clients import provisioning_client_revoke
from tests.scim.conftest import ENTERPRISE, USER, ScimCaller, user_body


def _error(response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["detail"]
    if scim_type:
        assert body.get("scimType") == scim_type, body
    return body


def _create(okta, email, **extra) -> str:
    response = okta.post("/Users", user_body(email, **extra))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_a_body_that_is_not_json_is_invalid_syntax(okta):
    response = okta.client.post("/scim/v2/Users", data=b"{not json",
                                content_type="application/scim+json", headers=okta.headers)
    _error(response, 400, "invalidSyntax")
    assert not User.objects.filter(email__endswith="access.example").exists()


@pytest.mark.parametrize("body", [
    {"schemas": [USER], "userName": 5},
    {"schemas": [USER], "userName": "x@access.example", "active": "maybe"},
    {"schemas": [USER], "userName": "x@access.example", "emails": "x@access.example"},
    {"schemas": [USER]},
], ids=["number-user-name", "active-maybe", "emails-not-a-list", "no-user-name"])
def test_wrong_types_and_missing_required_attributes_are_400(okta, body):
    _error(okta.post("/Users", body), 400)
    assert not User.objects.exclude(user_type="service").exists()


def test_a_manager_that_does_not_exist_is_refused_and_nothing_is_written(okta):
    person_id = _create(okta, "ada@access.example")
    response = okta.patch(f"/Users/{person_id}",
                          {"op": "replace", "path": "title", "value": "CTO"},
                          {"op": "add", "path": f"{ENTERPRISE}:manager",
                           "value": {"value": "999999"}})
    assert "manager" in _error(response, 400, "invalidValue")["detail"]
    person = User.objects.get(pk=person_id)
    assert (person.job_title, person.manager_id) == ("", None)  # the title did not stay
    _error(okta.post("/Users", user_body("bob@access.example",
                                         **{ENTERPRISE: {"manager": {"value": "abc"}}})),
           400, "invalidValue")
    assert not User.objects.filter(email="bob@access.example").exists()


def test_a_cycle_of_managers_is_refused(okta):
    a = _create(okta, "a@access.example")
    b = _create(okta, "b@access.example", **{ENTERPRISE: {"manager": {"value": a}}})
    response = okta.patch(f"/Users/{a}", {"op": "add", "path": f"{ENTERPRISE}:manager",
                                          "value": {"value": b}})
    assert "cycle" in _error(response, 400, "invalidValue")["detail"]
    assert User.objects.get(pk=a).manager_id is None
    response = okta.patch(f"/Users/{a}", {"op": "add", "path": f"{ENTERPRISE}:manager",
                                          "value": {"value": a}})
    _error(response, 400, "invalidValue")


def test_a_taken_user_name_or_external_id_is_a_uniqueness_conflict(okta):
    _create(okta, "ada@access.example", externalId="00u1")
    _error(okta.post("/Users", user_body("ADA@access.example")), 409, "uniqueness")
    _error(okta.post("/Users", user_body("other@access.example", externalId="00u1")),
           409, "uniqueness")
    assert User.objects.filter(email__endswith="access.example").count() == 1


def test_an_unknown_resource_is_404_and_an_unknown_filter_attribute_400(okta):
    _error(okta.get("/Users/424242"), 404)
    _error(okta.get("/Users/not-a-number"), 404)
    _error(okta.get('/Users?filter=addresses.locality eq "Paris"'), 400, "invalidFilter")
    _error(okta.get('/Users?filter=userName eq'), 400, "invalidFilter")


def test_no_token_a_revoked_one_and_an_api_token_are_refused(okta):
    anonymous = ScimCaller(None)
    response = anonymous.get("/Users")
    _error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert anonymous.get("/ServiceProviderConfig").status_code == 200  # RFC 7644 §4
    _client, api_token = api_client_create(actor=None, display_name="Script",
                                           permissions=[ApiPermission.READ_WRITE_ALL],
                                           system=True)
    _error(ScimCaller(api_token).get("/Users"), 401)
    assert okta.get("/Users").status_code == 200
    okta.record.refresh_from_db()
    assert okta.record.last_used_at is not None
    provisioning_client_revoke(actor=None, client_id=okta.record.pk, system=True)
    _error(okta.get("/Users"), 401)
    assert AuditEvent.objects.filter(action="provisioningClient.revoked").count() == 1


def test_a_scim_token_cannot_call_the_graph_api(okta):
    graph = APIClient()
    graph.credentials(HTTP_AUTHORIZATION=f"Bearer {okta.token}")
    assert graph.get("/v1.0/users").status_code == 401


def test_a_client_cannot_change_people_another_client_provisions(okta):
    from governance.services.provisioning_clients import provisioning_client_create
    _client, token = provisioning_client_create(actor=None, display_name="Entra", system=True)
    person_id = _create(okta, "ada@access.example")
    entra = ScimCaller(token)
    response = entra.patch(f"/Users/{person_id}",
                           {"op": "replace", "path": "title", "value": "CTO"})
    _error(response, 403)
    assert User.objects.get(pk=person_id).job_title == ""


def test_an_unknown_attribute_or_schema_is_refused_and_nothing_is_written(okta):
    body = user_body("ada@access.example", shoeSize=44)
    assert "shoeSize" in _error(okta.post("/Users", body), 400, "invalidSyntax")["detail"]
    unknown_schema = user_body("bob@access.example")
    unknown_schema["schemas"] = ["urn:example:params:scim:schemas:Shoe"]
    _error(okta.post("/Users", unknown_schema), 400)
    assert not User.objects.filter(email="bob@access.example").exists()


def test_delete_is_the_leaver_and_the_person_is_gone_from_scim(okta):
    person_id = _create(okta, "ada@access.example")
    assert okta.delete(f"/Users/{person_id}").status_code == 204
    _error(okta.get(f"/Users/{person_id}"), 404)
    assert okta.get('/Users?filter=userName eq "ada@access.example"').json()[
        "totalResults"] == 0
    person = User.objects.get(pk=person_id)
    assert not person.is_active and person.account_state == "deleted"
    assert AuditEvent.objects.filter(object_id=person_id, action__in=[
        "user.deactivated", "user.deleted"]).count() == 2
    _error(okta.delete(f"/Users/{person_id}"), 404)
