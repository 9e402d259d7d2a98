"""catalogs: list, read, create, change, delete; what each caller may see and do."""

from governance.models import Catalog
from tests.api.conftest import EM, assert_graph_error, assert_refused_three_ways

CATALOGS = f"{EM}/catalogs"


def test_owner_lists_their_catalog_with_graph_json(world, callers):
    body = callers.owner.get(CATALOGS).json()
    assert body["@odata.context"].endswith("/v1.0/$metadata#identityGovernance/"
                                           "entitlementManagement/catalogs")
    [catalog] = body["value"]
    assert catalog["id"] == str(world.catalog.pk) and catalog["displayName"] == "Projects"
    assert catalog["state"] == "published" and catalog["catalogType"] == "userManaged"
    assert catalog["createdDateTime"].endswith("Z")


def test_filter_select_and_count(world, callers):
    response = callers.reader.get(CATALOGS, {"$filter": "(displayName eq 'projects')",
                                             "$select": "displayName", "$count": "true"})
    body = response.json()
    assert body["@odata.count"] == 1
    assert body["value"] == [{"id": str(world.catalog.pk), "displayName": "Projects"}]


def test_unsupported_filter_is_a_400_naming_the_problem(world, callers):
    response = callers.reader.get(CATALOGS, {"$filter": "displayName gt 'A'"})
    assert_graph_error(response, 400, "gt")


def test_writer_creates_changes_and_deletes_a_catalog(world, callers):
    created = callers.writer.post(CATALOGS, {"displayName": "Marketing", "state": "published",
                                             "isExternallyVisible": True}, format="json")
    assert created.status_code == 201, created.content
    catalog_id = created.json()["id"]
    assert created.json()["@odata.context"].endswith("/catalogs/$entity")
    changed = callers.writer.patch(f"{CATALOGS}/{catalog_id}", {"description": "Campaigns"},
                                   format="json")
    assert changed.status_code == 204
    catalog = Catalog.objects.get(pk=catalog_id)
    assert (catalog.display_name, catalog.description, catalog.is_externally_visible) == (
        "Marketing", "Campaigns", True)
    assert callers.writer.delete(f"{CATALOGS}/{catalog_id}").status_code == 204
    assert not Catalog.objects.filter(pk=catalog_id).exists()


def test_bad_bodies_change_nothing(world, callers):
    for body, words in (({"displayName": "X", "state": "live"}, ("state", "published")),
                        ({"displayName": "X", "colour": "red"}, ("colour",)),
                        ({"displayName": 5}, ("displayName",)),
                        ({"displayName": "Projects"}, ("displayName", "Projects"))):
        response = callers.writer.post(CATALOGS, body, format="json")
        assert_graph_error(response, 400, *words)
    response = callers.writer.generic("POST", CATALOGS, "{not json",
                                      content_type="application/json")
    assert_graph_error(response, 400, "JSON")
    assert Catalog.objects.count() == 2


def test_permissions(world, callers):
    url = f"{CATALOGS}/{world.catalog.pk}"
    assert callers.reader.get(url).status_code == 200
    assert callers.stranger.get(CATALOGS).json()["value"][0]["displayName"] == "Elsewhere"
    assert_refused_three_ways(callers, "get", url)
    assert_refused_three_ways(callers, "patch", url, {"description": "x"})
    assert_refused_three_ways(callers, "delete", url)
    assert_graph_error(callers.anonymous.get(CATALOGS), 401)
    # A member with no role sees no catalog and may not create one.
    assert callers.member.get(CATALOGS).json()["value"] == []
    assert_graph_error(callers.member.post(CATALOGS, {"displayName": "Mine"}, format="json"),
                       403, "catalog creators")
    assert Catalog.objects.get(pk=world.catalog.pk).description == ""
