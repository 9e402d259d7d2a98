"""resourceRequests: adding and removing a catalog's resources as Graph does, the requests
listed from the audit log, refusals that change nothing, and who may do what."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.choices import CatalogRole, GroupMembershipRole
from governance.models import AuditEvent, GroupMembership, Resource
from governance.services.resources import resource_add
from tests.api.conftest import (
    EM,
    assert_graph_error,
    assert_refused_three_ways,
    person_client,
)
from tests.factories import CatalogFactory, GroupFactory, UserFactory, role_holder

REQUESTS = f"{EM}/resourceRequests"


def _add_body(catalog, group, **resource):
    return {"requestType": "adminAdd", "catalog": {"id": str(catalog.pk)},
            "resource": {"originId": str(group.pk), "originSystem": "AadGroup", **resource}}


def _counts() -> tuple[int, int]:
    return Resource.objects.count(), AuditEvent.objects.count()


def test_admin_add_offers_a_group_and_answers_with_the_request(world, callers):
    group = GroupFactory(display_name="Marketing", description="Campaigns")
    body = _add_body(world.catalog, group, displayName="Marketing team")
    body["@odata.type"] = "#microsoft.graph.accessPackageResourceRequest"
    body["resource"]["@odata.type"] = "#microsoft.graph.accessPackageResource"
    response = callers.writer.post(REQUESTS, body, format="json")
    assert response.status_code == 201, response.content
    answer = response.json()
    resource = Resource.objects.get(catalog=world.catalog, origin_id=str(group.pk))
    event = AuditEvent.objects.get(action="resource.added", object_id=str(resource.pk))
    assert answer["@odata.context"].endswith("entitlementManagement/resourceRequests/$entity")
    assert (answer["id"], answer["requestType"], answer["state"]) == (
        str(event.pk), "adminAdd", "delivered")
    assert answer["createdDateTime"].endswith("Z")
    assert answer["resource"] == {"id": str(resource.pk), "displayName": "Marketing team",
                                  "originId": str(group.pk), "originSystem": "AadGroup"}
    assert answer["catalog"]["id"] == str(world.catalog.pk)
    assert answer["catalog"]["displayName"] == "Projects"
    assert answer["catalog"]["createdDateTime"].endswith("Z")
    assert resource.description == "Campaigns"
    assert sorted(resource.roles.values_list("origin_id", flat=True)) == [
        f"Member_{group.pk}", f"Owner_{group.pk}"]


def test_admin_remove_takes_a_resource_out_and_both_requests_are_listed(world, callers):
    group = GroupFactory(display_name="Marketing")
    callers.writer.post(REQUESTS, _add_body(world.catalog, group), format="json")
    resource = Resource.objects.get(origin_id=str(group.pk))
    response = callers.writer.post(REQUESTS, {
        "requestType": "adminRemove", "catalog": {"id": str(world.catalog.pk)},
        "resource": {"id": str(resource.pk)}}, format="json")
    assert response.status_code == 201, response.content
    removed = response.json()
    assert removed["requestType"] == "adminRemove" and removed["state"] == "delivered"
    assert removed["resource"]["id"] == str(resource.pk)
    assert removed["resource"]["displayName"] == "Marketing"
    assert not Resource.objects.filter(pk=resource.pk).exists()

    listed = callers.owner.get(REQUESTS, {"$expand": "resource,catalog",
                                          "$orderby": "createdDateTime"}).json()
    assert listed["@odata.context"].endswith("entitlementManagement/resourceRequests")
    assert [item["requestType"] for item in listed["value"]] == ["adminAdd", "adminRemove"]
    assert listed["value"][1]["id"] == removed["id"]
    assert {item["catalog"]["displayName"] for item in listed["value"]} == {"Projects"}
    only_removals = callers.reader.get(REQUESTS, {
        "$filter": f"requestType eq 'adminRemove' and resource/id eq '{resource.pk}'"}).json()
    assert [item["id"] for item in only_removals["value"]] == [removed["id"]]
    by_origin = callers.reader.get(REQUESTS, {
        "$filter": f"resource/originId eq '{group.pk}' and catalog/id eq "
                   f"'{world.catalog.pk}'", "$count": "true"}).json()
    assert by_origin["@odata.count"] == 2
    assert callers.stranger.get(REQUESTS).json()["value"] == []
    assert callers.member.get(REQUESTS).json()["value"] == []


def test_removing_a_resource_a_package_grants_is_a_409_and_changes_nothing(world, callers):
    resource = Resource.objects.get(origin_id=str(world.group.pk))
    before = _counts()
    response = callers.writer.post(REQUESTS, {"requestType": "adminRemove",
                                              "resource": {"id": str(resource.pk)}},
                                   format="json")
    assert_graph_error(response, 409, "Falcon collaboration")
    assert _counts() == before


def test_bad_requests_are_400s_naming_the_problem_and_create_nothing(world, callers):
    group = GroupFactory(display_name="Marketing")
    good = _add_body(world.catalog, group)
    before = _counts()
    cases = [
        ({**good, "justification": "x"}, ("justification",)),
        ({**good, "requestType": "adminUpdate"}, ("requestType", "adminAdd", "adminRemove")),
        ({**good, "requestType": None}, ("requestType",)),
        ({key: value for key, value in good.items() if key != "requestType"},
         ("requestType",)),
        ({**good, "resource": {**good["resource"], "colour": "red"}}, ("colour",)),
        ({**good, "resource": {**good["resource"], "originSystem": "AadApplication"}},
         ("Refresh",)),
        ({**good, "resource": {**good["resource"], "originSystem": "Ldap"}},
         ("originSystem", "Ldap")),
        ({**good, "resource": {**good["resource"], "originId": "abc"}}, ("originId", "abc")),
        ({**good, "resource": {**good["resource"], "originId": "999999"}}, ("group",)),
        ({**good, "resource": {**good["resource"], "displayName": 7}}, ("displayName",)),
        ({**good, "resource": "Marketing"}, ("resource",)),
        ({key: value for key, value in good.items() if key != "catalog"}, ("catalog",)),
        ({**good, "catalog": {"id": "x"}}, ("catalog.id",)),
        ({**good, "catalog": {"id": str(world.catalog.pk), "name": "Projects"}}, ("name",)),
        (_add_body(world.catalog, world.group), ("already offers", "Project Falcon")),
        ({"requestType": "adminRemove", "resource": {}}, ("resource.id",)),
    ]
    for body, words in cases:
        assert_graph_error(callers.writer.post(REQUESTS, body, format="json"), 400, *words)
    response = callers.writer.generic("POST", REQUESTS, "{\"requestType\": ",
                                      content_type="application/json")
    assert_graph_error(response, 400, "JSON")
    assert_graph_error(callers.writer.post(REQUESTS, {"requestType": "adminRemove",
                                                      "resource": {"id": "77777"}},
                                           format="json"), 404, "77777")
    assert _counts() == before


def test_admin_remove_by_origin_within_the_catalog(world, callers):
    group = GroupFactory(display_name="Marketing")
    callers.writer.post(REQUESTS, _add_body(world.catalog, group), format="json")
    body = {"requestType": "adminRemove", "catalog": {"id": str(world.catalog.pk)},
            "resource": {"originId": str(group.pk), "originSystem": "AadGroup"}}
    response = callers.writer.post(REQUESTS, body, format="json")
    assert response.status_code == 201, response.content
    assert not Resource.objects.filter(origin_id=str(group.pk)).exists()
    assert_graph_error(callers.writer.post(REQUESTS, body, format="json"), 404, str(group.pk))


def test_removing_from_the_wrong_catalog_is_refused(world, callers):
    other = CatalogFactory(display_name="Other")
    resource = Resource.objects.get(origin_id=str(world.other_group.pk))
    response = callers.writer.post(REQUESTS, {
        "requestType": "adminRemove", "catalog": {"id": str(other.pk)},
        "resource": {"id": str(resource.pk)}}, format="json")
    assert_graph_error(response, 400, "not in the catalog")


def test_owners_add_the_groups_they_own_only(world, callers):
    mine = GroupFactory(display_name="Owner's team")
    GroupMembership.objects.create(group=mine, user=world.owner,
                                   role=GroupMembershipRole.OWNER)
    response = callers.owner.post(REQUESTS, _add_body(world.catalog, mine), format="json")
    assert response.status_code == 201, response.content
    theirs = GroupFactory(display_name="Finance")
    response = callers.owner.post(REQUESTS, _add_body(world.catalog, theirs), format="json")
    assert_graph_error(response, 400, "not an owner", "Finance")
    assert not Resource.objects.filter(origin_id=str(theirs.pk)).exists()


def test_permissions(world, callers):
    group = GroupFactory(display_name="Marketing")
    # A catalog reader sees the catalog but may not change what it offers.
    reader = person_client(role_holder(world.catalog, CatalogRole.READER,
                                       email="catalog.reader@access.example"))
    before = _counts()
    assert_refused_three_ways(callers, "post", REQUESTS, _add_body(world.catalog, group))
    assert_graph_error(callers.member.post(REQUESTS, _add_body(world.catalog, group),
                                           format="json"), 404, "catalog")
    assert_graph_error(reader.post(REQUESTS, _add_body(world.catalog, group), format="json"),
                       403, "add resources")
    resource = Resource.objects.get(origin_id=str(world.other_group.pk))
    remove = {"requestType": "adminRemove", "resource": {"id": str(resource.pk)}}
    assert_refused_three_ways(callers, "post", REQUESTS, remove)
    assert_graph_error(reader.post(REQUESTS, remove, format="json"), 403, "remove resources")
    assert _counts() == before
    assert_graph_error(callers.anonymous.get(REQUESTS), 401)
    assert callers.reader.get(REQUESTS).status_code == 200
    assert reader.get(REQUESTS).status_code == 200


def test_request_pages_cost_the_same_for_2_and_20_items(world, callers):
    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = callers.owner.get(REQUESTS, {"$expand": "resource,catalog"})
        assert response.status_code == 200
        return len(queries)

    admin = UserFactory(email="admin@access.example", is_superuser=True)
    for number in range(2):
        resource_add(actor=admin, catalog_id=world.catalog.pk,
                     group_id=GroupFactory(display_name=f"A{number}").pk)
    callers.owner.get(REQUESTS)  # the token's first use is recorded once
    small = page_queries()
    for number in range(18):
        resource_add(actor=admin, catalog_id=world.catalog.pk,
                     group_id=GroupFactory(display_name=f"B{number}").pk)
    assert len(callers.owner.get(REQUESTS).json()["value"]) == 20
    assert page_queries() == small
