"""What catalogs hold (catalogs/{id}/resources, resourceRoles, accessPackages) and the
top-level resources: Graph's JSON, the query options the tutorials use, who sees what."""


from governance.models import Resource
from tests.api.conftest import EM, assert_graph_error, assert_refused_three_ways, page_cost
from tests.factories import CatalogFactory, GroupFactory, PackageFactory, group_role

CATALOGS = f"{EM}/catalogs"
RESOURCES = f"{EM}/resources"


def _falcon(world) -> Resource:
    return Resource.objects.get(catalog=world.catalog, origin_id=str(world.group.pk))


def test_catalog_resources_in_graph_json_with_roles_and_scopes(world, callers):
    url = f"{CATALOGS}/{world.catalog.pk}/resources"
    body = callers.owner.get(url, {"$expand": "roles,scopes"}).json()
    assert body["@odata.context"].endswith(
        f"$metadata#identityGovernance/entitlementManagement/catalogs('{world.catalog.pk}')"
        "/resources")
    names = [item["displayName"] for item in body["value"]]
    assert names == ["Falcon Reports", "Project Falcon"]
    falcon = body["value"][1]
    assert falcon["id"] == str(_falcon(world).pk)
    assert (falcon["originSystem"], falcon["originId"]) == ("AadGroup", str(world.group.pk))
    assert falcon["createdDateTime"].endswith("Z")
    assert [role["originId"] for role in falcon["roles"]] == [f"Member_{world.group.pk}"]
    assert falcon["roles"][0]["originSystem"] == "AadGroup"
    assert falcon["scopes"] == [{"id": falcon["id"], "displayName": "Root",
                                 "description": "Root Scope", "originId": str(world.group.pk),
                                 "originSystem": "AadGroup", "isRootScope": True}]


def test_catalog_resources_filter_on_origin_and_name(world, callers):
    url = f"{CATALOGS}/{world.catalog.pk}/resources"
    expression = (f"originSystem eq 'AadGroup' and originId eq '{world.group.pk}'")
    [found] = callers.reader.get(url, {"$filter": expression}).json()["value"]
    assert found["displayName"] == "Project Falcon"
    found = callers.reader.get(url, {"$filter": "startswith(displayName,'falcon')"}).json()
    assert [item["displayName"] for item in found["value"]] == ["Falcon Reports"]
    assert_graph_error(callers.reader.get(url, {"$filter": "colour eq 'red'"}), 400, "colour")
    assert_graph_error(callers.reader.get(url, {"$expand": "catalog"}), 400, "catalog")


def test_one_resource_of_a_catalog(world, callers):
    resource = _falcon(world)
    url = f"{CATALOGS}/{world.catalog.pk}/resources/{resource.pk}"
    body = callers.owner.get(url, {"$expand": "roles"}).json()
    assert body["@odata.context"].endswith("/resources/$entity")
    assert body["displayName"] == "Project Falcon" and len(body["roles"]) == 1
    elsewhere = CatalogFactory(display_name="Other")
    assert_graph_error(callers.reader.get(f"{CATALOGS}/{elsewhere.pk}/resources/{resource.pk}"),
                       404, "resource")
    assert_graph_error(callers.reader.get(f"{CATALOGS}/{world.catalog.pk}/resources/x1"), 404)
    assert_graph_error(callers.reader.get(f"{CATALOGS}/abc/resources"), 404, "catalog")


def test_resource_roles_as_graphs_tutorial_filters_them(world, callers):
    resource = _falcon(world)
    url = f"{CATALOGS}/{world.catalog.pk}/resourceRoles"
    response = callers.reader.get(url, {
        "$filter": f"(originSystem eq 'AadGroup' and resource/id eq '{resource.pk}')",
        "$expand": "resource"})
    [role] = response.json()["value"]
    assert role["displayName"] == "Member" and role["originId"] == f"Member_{world.group.pk}"
    assert role["resource"]["id"] == str(resource.pk)
    assert role["resource"]["displayName"] == "Project Falcon"
    members = callers.reader.get(url, {"$filter": "displayName eq 'Member'"}).json()["value"]
    assert len(members) == 2 and all("resource" not in item for item in members)
    assert callers.reader.get(url, {"$filter": "displayName eq 'Owner'"}).json()["value"] == []


def test_catalog_access_packages(world, callers):
    PackageFactory(display_name="Elsewhere package")  # in another catalog
    url = f"{CATALOGS}/{world.catalog.pk}/accessPackages"
    body = callers.owner.get(url, {"$count": "true"}).json()
    assert body["@odata.count"] == 1
    [package] = body["value"]
    assert package["id"] == str(world.package.pk)
    assert package["displayName"] == "Falcon collaboration" and package["isHidden"] is False
    found = callers.owner.get(url, {"$filter": "displayName eq 'nothing'"}).json()["value"]
    assert found == []


def test_top_level_resources_are_those_of_readable_catalogs(world, callers):
    other = CatalogFactory(display_name="Elsewhere")
    group_role(PackageFactory(catalog=other), GroupFactory(display_name="Zeppelin"))
    everything = callers.reader.get(RESOURCES, {"$orderby": "displayName desc"}).json()
    assert [item["displayName"] for item in everything["value"]] == [
        "Zeppelin", "Project Falcon", "Falcon Reports"]
    owned = callers.owner.get(RESOURCES).json()["value"]
    assert {item["displayName"] for item in owned} == {"Project Falcon", "Falcon Reports"}
    assert callers.member.get(RESOURCES).json()["value"] == []
    resource = _falcon(world)
    body = callers.owner.get(f"{RESOURCES}/{resource.pk}", {"$expand": "scopes"}).json()
    assert body["id"] == str(resource.pk) and body["scopes"][0]["isRootScope"] is True
    assert body["@odata.context"].endswith("entitlementManagement/resources/$entity")
    assert_graph_error(callers.reader.get(f"{RESOURCES}/nope"), 404, "nope")


def test_permissions(world, callers):
    resource = _falcon(world)
    catalog = f"{CATALOGS}/{world.catalog.pk}"
    for url in (f"{catalog}/resources", f"{catalog}/resources/{resource.pk}",
                f"{catalog}/resourceRoles", f"{catalog}/accessPackages",
                f"{RESOURCES}/{resource.pk}"):
        assert callers.reader.get(url).status_code == 200, url
        assert callers.owner.get(url).status_code == 200, url
        assert_refused_three_ways(callers, "get", url)
        assert_graph_error(callers.member.get(url), 404)
    assert_graph_error(callers.anonymous.get(RESOURCES), 401)
    assert callers.stranger.get(RESOURCES).json()["value"] == []
    # Read-only endpoints: writing to them is refused, and changes nothing.
    response = callers.writer.post(f"{catalog}/resources", {"displayName": "X"}, format="json")
    assert response.status_code == 405
    assert Resource.objects.count() == 2


def _page_queries(client, url, expand) -> int:
    params = {"$expand": expand} if expand else {}
    return page_cost(client, url, {**params, "$top": "50"})[0]


def test_resource_pages_cost_the_same_for_2_and_20_items(world, callers):
    catalog = f"{CATALOGS}/{world.catalog.pk}"
    pages = ((f"{catalog}/resources", "roles,scopes"), (RESOURCES, "roles,scopes"),
             (f"{catalog}/resourceRoles", "resource"), (f"{catalog}/accessPackages", ""))
    callers.owner.get(RESOURCES)  # the token's first use is recorded once
    small = [_page_queries(callers.owner, url, expand) for url, expand in pages]
    for number in range(18):
        group_role(PackageFactory(catalog=world.catalog), GroupFactory(display_name=f"G{number}"))
    assert Resource.objects.filter(catalog=world.catalog).count() == 20
    large = [_page_queries(callers.owner, url, expand) for url, expand in pages]
    assert small == large
