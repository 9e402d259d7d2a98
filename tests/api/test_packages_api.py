"""accessPackages: list, read, create, change, delete, what the caller may request, and the
separation of duties ($ref to incompatible packages and groups)."""

import json

import pytest

from governance.models import AccessPackage
from tests.api.conftest import EM, assert_graph_error, assert_refused_three_ways, page_cost
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    PackageFactory,
    PolicyFactory,
    group_role,
)

PACKAGES = f"{EM}/accessPackages"


def test_owner_lists_packages_of_their_catalogs(world, callers):
    body = callers.owner.get(PACKAGES).json()
    assert body["@odata.context"].endswith("entitlementManagement/accessPackages")
    [package] = body["value"]
    assert package == {"id": str(world.package.pk), "displayName": "Falcon collaboration",
                       "description": "", "isHidden": False,
                       "createdDateTime": package["createdDateTime"],
                       "modifiedDateTime": package["modifiedDateTime"]}
    assert callers.stranger.get(PACKAGES).json()["value"] == []
    assert callers.member.get(PACKAGES).json()["value"] == []


def test_filter_on_catalog_id_and_names(world, callers):
    PackageFactory(catalog=world.catalog, display_name="Osprey", is_hidden=True)
    for expression, names in (
            (f"catalog/id eq '{world.catalog.pk}' and isHidden eq false",
             ["Falcon collaboration"]),
            ("startswith(displayName,'osp') or description eq 'x'", ["Osprey"]),
            ("not (isHidden eq true)", ["Falcon collaboration"])):
        body = callers.reader.get(PACKAGES, {"$filter": expression}).json()
        assert [p["displayName"] for p in body["value"]] == names, expression
    assert_graph_error(callers.reader.get(PACKAGES, {"$filter": "colour eq 'red'"}), 400,
                       "colour")


def test_expand_everything(world, callers):
    other = PackageFactory(catalog=world.catalog, display_name="Osprey")
    world.package.incompatible_access_packages.add(other)
    world.package.incompatible_groups.add(world.other_group)
    response = callers.owner.get(f"{PACKAGES}/{world.package.pk}", {
        "$expand": "catalog,resourceRoleScopes($expand=role,scope),assignmentPolicies,"
                   "incompatibleAccessPackages,incompatibleGroups"})
    body = response.json()
    assert body["catalog"]["displayName"] == "Projects"
    scopes = body["resourceRoleScopes"]
    assert len(scopes) == 2
    assert scopes[0]["role"]["originId"] == f"Member_{world.group.pk}"
    assert scopes[0]["role"]["resource"]["originSystem"] == "AadGroup"
    assert scopes[0]["scope"]["isRootScope"] is True
    [policy] = body["assignmentPolicies"]
    assert policy["displayName"] == "Contoso partners"
    assert len(policy["requestApprovalSettings"]["stages"]) == 2
    assert [p["displayName"] for p in body["incompatibleAccessPackages"]] == ["Osprey"]
    assert [g["displayName"] for g in body["incompatibleGroups"]] == ["Falcon Reports"]


def test_writer_creates_changes_and_deletes_a_package(world, callers):
    created = callers.writer.post(PACKAGES, {
        "displayName": "Osprey", "description": "Bird watching", "isHidden": True,
        "catalog": {"id": str(world.catalog.pk)}}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["@odata.context"].endswith("/accessPackages/$entity")
    assert (body["displayName"], body["isHidden"]) == ("Osprey", True)
    url = f"{PACKAGES}/{body['id']}"
    assert callers.writer.patch(url, {"description": "Birds"}, format="json").status_code == 204
    package = AccessPackage.objects.get(pk=body["id"])
    assert (package.display_name, package.description, package.is_hidden) == (
        "Osprey", "Birds", True)
    assert callers.writer.delete(url).status_code == 204
    assert not AccessPackage.objects.filter(pk=body["id"]).exists()


def test_bad_bodies_change_nothing(world, callers):
    catalog = {"id": str(world.catalog.pk)}
    for body, status, words in (
            ({"displayName": "X"}, 400, ("catalog",)),
            ({"displayName": "X", "catalog": catalog, "colour": "red"}, 400, ("colour",)),
            ({"displayName": "X", "catalog": catalog, "isHidden": "yes"}, 400, ("isHidden",)),
            ({"displayName": "Falcon collaboration", "catalog": catalog}, 400,
             ("displayName", "already")),
            ({"displayName": "X", "catalog": {"id": "abc"}}, 400, ("catalog",)),
            ({"displayName": "X", "catalog": {"id": "999999"}}, 404, ("catalog",))):
        assert_graph_error(callers.writer.post(PACKAGES, body, format="json"), status, *words)
    response = callers.writer.generic("POST", PACKAGES, "{", content_type="application/json")
    assert_graph_error(response, 400, "JSON")
    assert AccessPackage.objects.count() == 1


def test_a_package_with_history_is_not_deleted(world, callers):
    from tests.factories import submit_request
    submit_request(world)
    response = callers.writer.delete(f"{PACKAGES}/{world.package.pk}")
    assert_graph_error(response, 409, "open request")


def test_permissions(world, callers):
    url = f"{PACKAGES}/{world.package.pk}"
    assert callers.reader.get(url).status_code == 200
    assert callers.owner.get(url).status_code == 200
    assert callers.owner.patch(url, {"description": "Mine"}, format="json").status_code == 204
    assert_refused_three_ways(callers, "get", url)
    assert_refused_three_ways(callers, "patch", url, {"description": "x"})
    assert_refused_three_ways(callers, "delete", url)
    body = {"displayName": "New", "catalog": {"id": str(world.catalog.pk)}}
    assert_refused_three_ways(callers, "post", PACKAGES, body)
    assert_graph_error(callers.member.get(url), 404)
    assert_graph_error(callers.anonymous.get(PACKAGES), 401)
    assert_graph_error(callers.writer.get(f"{PACKAGES}/abc"), 404)
    assert AccessPackage.objects.get(pk=world.package.pk).description == "Mine"
    assert callers.owner.post(PACKAGES, body, format="json").status_code == 201


def test_permissions_of_what_a_package_links_to(world, callers):
    url = f"{PACKAGES}/{world.package.pk}"
    group = GroupFactory()
    for path in ("assignmentPolicies", "accessPackagesIncompatibleWith", "incompatibleGroups"):
        assert callers.reader.get(f"{url}/{path}").status_code == 200
        assert_refused_three_ways(callers, "get", f"{url}/{path}")
    assert_refused_three_ways(callers, "post", f"{url}/incompatibleGroups/$ref",
                              {"@odata.id": f"https://graph.microsoft.com/v1.0/groups/{group.pk}"})
    assert not world.package.incompatible_groups.exists()
    policies = callers.owner.get(f"{url}/assignmentPolicies").json()
    assert [p["displayName"] for p in policies["value"]] == ["Contoso partners"]


def test_a_catalog_reader_may_read_but_not_change(world, callers, catalog_reader):
    reader = catalog_reader
    url = f"{PACKAGES}/{world.package.pk}"
    assert reader.get(url).status_code == 200
    assert_graph_error(reader.patch(url, {"description": "x"}, format="json"), 403)
    assert_graph_error(reader.delete(url), 403)


def test_filter_by_current_user_lists_what_the_caller_may_request(world, callers):
    url = f"{PACKAGES}/filterByCurrentUser(on='allowedRequestor')"
    open_to_all = PackageFactory(catalog=world.catalog, display_name="Everyone's")
    PolicyFactory(access_package=open_to_all)
    body = callers.member.get(url).json()
    assert [p["displayName"] for p in body["value"]] == ["Everyone's"]
    assert callers.owner.get(url, {"$select": "displayName"}).json()["value"] == [
        {"id": str(open_to_all.pk), "displayName": "Everyone's"}]
    assert_graph_error(callers.anonymous.get(url), 401)
    encoded = f"{PACKAGES}/filterByCurrentUser(on=%27allowedRequestor%27)"
    assert callers.member.get(encoded).status_code == 200
    assert_graph_error(callers.member.get(f"{PACKAGES}/filterByCurrentUser(on='target')"),
                       400, "allowedRequestor")
    assert_graph_error(callers.reader.get(url), 400, "person")


def test_incompatible_packages_by_reference(world, callers):
    other = PackageFactory(catalog=world.catalog, display_name="Osprey")
    refs = f"{PACKAGES}/{world.package.pk}/incompatibleAccessPackages"
    added = callers.owner.post(f"{refs}/$ref", {
        "@odata.id": f"https://graph.microsoft.com/v1.0/identityGovernance/"
                     f"entitlementManagement/accessPackages/{other.pk}"}, format="json")
    assert added.status_code == 204, added.content
    assert [p["id"] for p in callers.owner.get(refs).json()["value"]] == [str(other.pk)]
    back = f"{PACKAGES}/{other.pk}/accessPackagesIncompatibleWith"
    assert [p["id"] for p in callers.owner.get(back).json()["value"]] == [
        str(world.package.pk)]
    for body, words in (({"@odata.id": "https://x/v1.0/groups/1"}, ("@odata.id",)),
                        ({}, ("@odata.id",)),
                        ({"@odata.id": f"https://x/v1.0/{EM}/accessPackages/"
                                       f"{world.package.pk}"}, ("itself",))):
        assert_graph_error(callers.owner.post(f"{refs}/$ref", body, format="json"), 400,
                           *words)
    assert callers.owner.delete(f"{refs}/{other.pk}/$ref").status_code == 204
    assert not world.package.incompatible_access_packages.exists()
    assert_graph_error(callers.owner.delete(f"{refs}/{other.pk}/$ref"), 404)
    assert_refused_three_ways(callers, "get", refs)
    assert_refused_three_ways(callers, "post", f"{refs}/$ref",
                              {"@odata.id": f"https://x/v1.0/{EM}/accessPackages/{other.pk}"})
    assert_refused_three_ways(callers, "delete", f"{refs}/{other.pk}/$ref")


def test_incompatible_groups_by_reference(world, callers):
    group = GroupFactory(display_name="Auditors")
    refs = f"{PACKAGES}/{world.package.pk}/incompatibleGroups"
    added = callers.writer.post(f"{refs}/$ref", {
        "@odata.id": f"https://graph.microsoft.com/v1.0/groups/{group.pk}"}, format="json")
    assert added.status_code == 204, added.content
    [shown] = callers.owner.get(refs).json()["value"]
    assert (shown["id"], shown["displayName"]) == (str(group.pk), "Auditors")
    missing = {"@odata.id": "https://graph.microsoft.com/v1.0/groups/999999"}
    assert_graph_error(callers.writer.post(f"{refs}/$ref", missing, format="json"), 400,
                       "group")
    assert_refused_three_ways(callers, "get", refs)
    assert_refused_three_ways(callers, "delete", f"{refs}/{group.pk}/$ref")
    assert callers.owner.delete(f"{refs}/{group.pk}/$ref").status_code == 204
    assert not world.package.incompatible_groups.exists()
    world.package.incompatible_groups.add(group)
    by_query = callers.owner.delete(
        f"{refs}/$ref", QUERY_STRING=f"$id=https://graph.microsoft.com/v1.0/groups/{group.pk}")
    assert by_query.status_code == 204, by_query.content
    assert not world.package.incompatible_groups.exists()


def test_removing_an_incompatible_package_by_id_in_the_query(world, callers):
    other = PackageFactory(catalog=world.catalog, display_name="Osprey")
    world.package.incompatible_access_packages.add(other)
    refs = f"{PACKAGES}/{world.package.pk}/incompatibleAccessPackages/$ref"
    response = callers.writer.delete(
        refs, QUERY_STRING=f"$id=https://graph.microsoft.com/v1.0/{EM[6:]}/accessPackages/"
                           f"{other.pk}")
    assert response.status_code == 204, response.content
    assert not world.package.incompatible_access_packages.exists()
    assert_graph_error(callers.writer.delete(refs), 400, "@odata.id")


def test_incompatible_packages_of_unreadable_catalogs_are_not_shown(world, callers):
    hidden = PackageFactory(catalog=CatalogFactory(), display_name="Elsewhere's")
    shown = PackageFactory(catalog=world.catalog, display_name="Osprey")
    world.package.incompatible_access_packages.add(hidden, shown)
    url = f"{PACKAGES}/{world.package.pk}"
    expanded = callers.owner.get(url, {"$expand": "incompatibleAccessPackages"}).json()
    assert [p["displayName"] for p in expanded["incompatibleAccessPackages"]] == ["Osprey"]
    listed = callers.owner.get(f"{url}/incompatibleAccessPackages").json()["value"]
    assert [p["displayName"] for p in listed] == ["Osprey"]
    everything = callers.writer.get(url, {"$expand": "incompatibleAccessPackages"}).json()
    assert len(everything["incompatibleAccessPackages"]) == 2
    # Removing the one they see keeps the one they do not.
    assert callers.owner.delete(f"{url}/incompatibleAccessPackages/{shown.pk}/$ref"
                                ).status_code == 204
    assert list(world.package.incompatible_access_packages.all()) == [hidden]


def test_a_page_costs_the_same_for_2_and_20_packages(world, callers):
    expand = {"$expand": "catalog,resourceRoleScopes,assignmentPolicies,"
                         "incompatibleAccessPackages,incompatibleGroups"}

    def count():
        return page_cost(callers.writer, PACKAGES, expand)

    PackageFactory(catalog=world.catalog)
    few, shown = count()
    assert shown == 2
    for _ in range(18):
        package = PackageFactory(catalog=world.catalog)
        group_role(package, GroupFactory())
        PolicyFactory(access_package=package)
        package.incompatible_access_packages.add(world.package)
    many, shown = count()
    assert (many, shown) == (few, 20)


@pytest.mark.parametrize("method,path,body", [
    ("post", "", {"displayName": "a\x00", "catalog": {"id": "CAT"}}),
    ("post", "", {"displayName": "a", "description": "\x00", "catalog": {"id": "CAT"}}),
    ("post", "", {"displayName": "a", "catalog": {"id": "99999999999999999"}}),
    ("post", "", {"displayName": "a", "catalog": "CAT"}),
    ("post", "", {"displayName": "a" * 300, "catalog": {"id": "CAT"}}),
    ("patch", "/PKG", {"displayName": "a\x00"}),
    ("patch", "/PKG", {"catalog": ["x"]}),
    ("post", "/PKG/resourceRoleScopes", {"role": {"id": ["1"]}, "scope": {}}),
    ("post", "/PKG/resourceRoleScopes", {"role": {"id": "99999999999999999"}, "scope": {}}),
    ("post", "/PKG/resourceRoleScopes", {"role": {"originId": {}, "resource": {"id": {}}},
                                         "scope": {}}),
    ("post", "/PKG/resourceRoleScopes", {"role": {"originId": "x\x00",
                                                  "resource": {"originId": "\x00"}},
                                         "scope": {}}),
    ("post", "/PKG/resourceRoleScopes", {"role": {"originId": "x", "resource": "r"},
                                         "scope": []}),
    ("post", "/PKG/resourceRoleScopes", {"role": {"originId": "x", "resource": []},
                                         "scope": {}}),
    ("post", "/PKG/incompatibleAccessPackages/$ref", {"@odata.id": ["x"]}),
    ("post", "/PKG/incompatibleAccessPackages/$ref",
     {"@odata.id": "https://x/accessPackages/99999999999999999999"}),
    ("post", "/PKG/incompatibleGroups/$ref", {"@odata.id": "https://x/groups/\x00"}),
    ("post", "/PKG/incompatibleGroups/$ref", {"@odata.id": "https://x/groups/9999999999999"}),
])
def test_odd_bodies_are_refused_not_failed(world, callers, method, path, body):
    text = json.dumps(body).replace("CAT", str(world.catalog.pk))
    url = PACKAGES + path.replace("PKG", str(world.package.pk))
    response = getattr(callers.writer, method)(url, json.loads(text), format="json")
    assert 400 <= response.status_code < 500, response.content[:300]
    assert AccessPackage.objects.count() == 1 and world.package.role_scopes.count() == 2
