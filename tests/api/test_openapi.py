"""The OpenAPI document (/api/openapi.json) and the API docs page (/api/docs/)."""

import re

import pytest
from django.test import Client
from drf_spectacular.validation import validate_schema

from governance.api.schema import build_document, url_path
from tests.api.conftest import EM

CATALOGS = f"{EM}/catalogs"
ODATA_OPTIONS = {"$filter", "$select", "$expand", "$orderby", "$top", "$skiptoken", "$count"}


@pytest.fixture(scope="module")
def document():
    return build_document()


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_document_is_valid_openapi_3_with_title_and_version(document):
    validate_schema(document)
    assert document["openapi"].startswith("3.0")
    assert document["info"]["title"] == "Access portal API (Microsoft Graph dialect)"
    assert document["info"]["version"] == "v1.0"


def test_only_paths_under_v1_0(document):
    assert document["paths"]
    assert all(path.startswith("/v1.0/") for path in document["paths"])
    assert not any(re.search(r"admin|accounts|openapi|docs", path) for path in document["paths"])


def test_catalogs_are_described_with_query_options_bodies_and_security(document):
    listing = document["paths"][CATALOGS]
    names = {p["name"] for p in listing["get"]["parameters"]}
    assert names == ODATA_OPTIONS
    top = next(p for p in listing["get"]["parameters"] if p["name"] == "$top")
    assert (top["schema"]["minimum"], top["schema"]["maximum"]) == (1, 999)
    assert listing["get"]["security"] == [{"bearerAuth": []}]
    page = listing["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert page == {"$ref": "#/components/schemas/"
                            "microsoft.graph.accessPackageCatalogCollectionResponse"}
    body = listing["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False
    assert body["properties"]["state"]["enum"] == ["published", "unpublished"]
    assert body["properties"]["isExternallyVisible"]["type"] == "boolean"
    assert "201" in listing["post"]["responses"]

    detail = document["paths"][f"{CATALOGS}/{{catalog_id}}"]
    assert set(detail) == {"get", "patch", "delete"}
    [path_id, *options] = detail["get"]["parameters"]
    assert (path_id["name"], path_id["in"], path_id["required"]) == ("catalog_id", "path", True)
    assert path_id["schema"] == {"type": "string"}
    assert {p["name"] for p in options} == {"$select", "$expand"}
    assert "204" in detail["delete"]["responses"]

    schemas = document["components"]["schemas"]
    catalog = schemas["microsoft.graph.accessPackageCatalog"]
    assert catalog["properties"]["id"] == {"type": "string"}
    assert catalog["properties"]["createdDateTime"]["format"] == "date-time"
    page = schemas["microsoft.graph.accessPackageCatalogCollectionResponse"]["properties"]
    assert {"@odata.context", "@odata.nextLink", "value"} <= set(page)
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        **document["components"]["securitySchemes"]["bearerAuth"],
        "type": "http", "scheme": "bearer"}


def test_every_operation_has_a_unique_id_security_and_graph_errors(document):
    ids = [operation["operationId"] for _path, _method, operation in operations(document)]
    assert len(ids) == len(set(ids))
    error = {"$ref": "#/components/schemas/microsoft.graph.ODataErrors.ODataError"}
    for path, method, operation in operations(document):
        assert operation["security"] == [{"bearerAuth": []}], (path, method)
        for status in ("400", "401", "403", "404"):
            content = operation["responses"][status]["content"]["application/json"]
            assert content["schema"] == error, (path, method, status)
        assert ("409" in operation["responses"]) == (method != "get"), (path, method)
        if method == "get":
            assert "application/json" in operation["responses"]["200"]["content"], path
        for name in re.findall(r"{(\w+)}", path):
            assert any(p["name"] == name and p["in"] == "path"
                       for p in operation["parameters"]), (path, name)


def test_route_and_regex_paths_read_as_their_urls():
    assert url_path("v1.0/identityGovernance/entitlementManagement/catalogs/<str:catalog_id>"
                    ) == f"{CATALOGS}/{{catalog_id}}"
    assert url_path("v1.0/groups/<str:group_id>/owners/$ref") == (
        "/v1.0/groups/{group_id}/owners/$ref")
    regex = (r"v1.0/^identityGovernance/entitlementManagement/assignments/"
             r"filterByCurrentUser\(on=(?P<q>'?)(?P<on>[^')]*)(?P=q)\)$")
    assert url_path(regex) == f"{EM}/assignments/filterByCurrentUser(on='{{on}}')"
    regex = r"v1.0/^groups/filterByCurrentUser[(]on='?(?P<on>\w*)'?[)]$"
    assert url_path(regex) == "/v1.0/groups/filterByCurrentUser(on='{on}')"


@pytest.mark.django_db
def test_the_document_is_served_publicly_as_json():
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert CATALOGS in response.json()["paths"]


@pytest.mark.django_db
def test_the_docs_page_explains_authentication_and_lists_every_path(document):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/v1.0/identityGovernance/entitlementManagement/catalogs" in page
    for words in ("Authorization: Bearer &lt;token&gt;", "create_api_client",
                  "EntitlementManagement.ReadWrite.All", "/profile/", "/api/openapi.json",
                  "$filter", "$top", "@odata.nextLink", "http://testserver/v1.0/"):
        assert words in page, words
    for path in document["paths"]:
        assert path.replace("'", "&#x27;") in page, path
    assert "<script src=\"http" not in page


@pytest.mark.django_db
def test_a_signed_in_person_sees_the_docs_page_in_the_site(world):
    client = Client()
    client.force_login(world.member)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert "Sign out" in response.content.decode()
