"""accessPackages/{id}/resourceRoleScopes: the roles a package grants, added as Graph v1.0
writes them (role and scope by origin), listed, read and removed."""

from governance.models import Resource, ResourceRoleScope
from tests.api.conftest import EM, assert_graph_error, assert_refused_three_ways
from tests.factories import CatalogFactory, GroupFactory, PackageFactory, group_role

PACKAGES = f"{EM}/accessPackages"


def _graph_body(group, resource_id=None, **role):
    """The body of Graph's tutorial: the Member role of a group, its root scope."""
    resource = {"originId": str(group.pk), "originSystem": "AadGroup"}
    if resource_id is not None:
        resource = {"id": str(resource_id)}
    return {"role": {"displayName": "Member", "originId": f"Member_{group.pk}",
                     "originSystem": "AadGroup", "resource": resource, **role},
            "scope": {"originId": str(group.pk), "originSystem": "AadGroup"}}


def _offered(world, group) -> Resource:
    """The group in the world's catalog, with its Member and Owner roles, in no package."""
    other = PackageFactory(catalog=world.catalog)
    role = group_role(other, group)
    group_role(other, group, role="Owner")
    other.role_scopes.all().delete()
    return role.resource


def test_add_a_role_by_the_resources_origin(world, callers):
    group = GroupFactory(display_name="Osprey")
    resource = _offered(world, group)
    url = f"{PACKAGES}/{world.package.pk}/resourceRoleScopes"
    response = callers.writer.post(url, _graph_body(group), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"]["originId"] == f"Member_{group.pk}"
    assert body["role"]["resource"]["id"] == str(resource.pk)
    assert body["scope"] == {"id": str(resource.pk), "displayName": "Root",
                             "description": "Root Scope", "originId": str(group.pk),
                             "originSystem": "AadGroup", "isRootScope": True}
    assert body["createdDateTime"].endswith("Z")
    assert world.package.role_scopes.filter(pk=body["id"]).exists()
    again = callers.writer.post(url, _graph_body(group), format="json")
    assert_graph_error(again, 409, "already grants")


def test_add_a_role_by_resource_id_or_role_id(world, callers):
    group = GroupFactory()
    resource = _offered(world, group)
    url = f"{PACKAGES}/{world.package.pk}/resourceRoleScopes"
    assert callers.owner.post(url, _graph_body(group, resource.pk),
                              format="json").status_code == 201
    owner_role = resource.roles.get(origin_id=f"Owner_{group.pk}")
    by_id = {"role": {"id": str(owner_role.pk)}, "scope": {"id": str(resource.pk)}}
    response = callers.owner.post(url, by_id, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["role"]["displayName"] == "Owner"


def test_roles_that_cannot_be_added(world, callers):
    group = GroupFactory()
    _offered(world, group)
    elsewhere = PackageFactory(catalog=CatalogFactory())
    foreign = group_role(elsewhere, GroupFactory())
    url = f"{PACKAGES}/{world.package.pk}/resourceRoleScopes"
    unknown = _graph_body(GroupFactory())
    assert_graph_error(callers.writer.post(url, unknown, format="json"), 404, "role")
    foreign_body = {"role": {"id": str(foreign.pk)}, "scope": {}}
    assert_graph_error(callers.writer.post(url, foreign_body, format="json"), 400,
                       "another catalog")
    wrong_scope = _graph_body(group) | {"scope": {"originId": "42"}}
    assert_graph_error(callers.writer.post(url, wrong_scope, format="json"), 400,
                       "scope.originId")
    for body, words in (({"role": {"colour": "red"}, "scope": {}}, ("colour",)),
                        ({"scope": {}}, ("role",)),
                        ({"role": {"id": str(foreign.pk)}}, ("scope",)),
                        ({"role": {"displayName": "Member"}, "scope": {}}, ("originId",))):
        assert_graph_error(callers.writer.post(url, body, format="json"), 400, *words)
    assert world.package.role_scopes.count() == 2


def test_list_read_and_remove(world, callers):
    url = f"{PACKAGES}/{world.package.pk}/resourceRoleScopes"
    body = callers.reader.get(url).json()
    assert len(body["value"]) == 2
    first = body["value"][0]
    assert first["role"]["resource"]["displayName"] and first["scope"]["isRootScope"]
    one = callers.owner.get(f"{url}/{first['id']}").json()
    assert one["id"] == first["id"] and one["@odata.context"].endswith("/$entity")
    filtered = callers.reader.get(url, {"$filter": f"role/id eq '{first['role']['id']}'"})
    assert [item["id"] for item in filtered.json()["value"]] == [first["id"]]
    assert callers.owner.delete(f"{url}/{first['id']}").status_code == 204
    assert not ResourceRoleScope.objects.filter(pk=first["id"]).exists()
    assert_graph_error(callers.owner.delete(f"{url}/{first['id']}"), 404)
    assert_graph_error(callers.owner.get(f"{url}/abc"), 404)


def test_permissions(world, callers):
    group = GroupFactory()
    _offered(world, group)
    url = f"{PACKAGES}/{world.package.pk}/resourceRoleScopes"
    scope = world.package.role_scopes.first()
    assert_refused_three_ways(callers, "get", url)
    assert_refused_three_ways(callers, "get", f"{url}/{scope.pk}")
    assert_refused_three_ways(callers, "post", url, _graph_body(group))
    assert_refused_three_ways(callers, "delete", f"{url}/{scope.pk}")
    assert_graph_error(callers.member.get(url), 404)
    assert world.package.role_scopes.count() == 2
