"""assignments: list, read, filterByCurrentUser(on='target') and reprocess; what each caller
may see and do."""


from governance.choices import DeliveryState
from governance.models import RoleDelivery
from governance.services.requests import request_admin_add, request_submit
from tests.api.conftest import (
    EM,
    assert_graph_error,
    assert_refused_three_ways,
    page_cost,
    person_client,
)
from tests.factories import UserFactory, delivered_assignment, member_package, open_package

ASSIGNMENTS = f"{EM}/assignments"


def test_reader_lists_assignments_with_graph_json(world, callers):
    assignment = delivered_assignment(world)
    body = callers.reader.get(ASSIGNMENTS, {
        "$expand": "target,accessPackage,assignmentPolicy", "$count": "true"}).json()
    assert body["@odata.context"].endswith("#identityGovernance/entitlementManagement/"
                                           "assignments")
    assert body["@odata.count"] == 1
    [item] = body["value"]
    assert item["id"] == str(assignment.pk)
    assert item["state"] == "delivered" and item["expiredDateTime"] is None
    assert item["schedule"]["startDateTime"].endswith("Z")
    assert item["schedule"]["expiration"]["type"] == "afterDateTime"
    assert item["target"]["objectId"] == str(world.requester.pk)
    assert item["target"]["email"] == "requester@contoso.example"
    assert item["accessPackage"]["displayName"] == "Falcon collaboration"
    assert item["assignmentPolicy"] == {"id": str(world.policy.pk),
                                        "displayName": "Contoso partners", "description": "",
                                        "allowedTargetScope": "specificConnectedOrganizationUsers",
                                        "automaticRequestSettings": None}


def test_filters(world, callers):
    assignment = delivered_assignment(world)
    package, policy = open_package(world)
    request_admin_add(actor=world.owner, access_package_id=package.pk, policy_id=policy.pk,
                      target=world.member)
    for expression, expected in (
            (f"target/objectId eq '{world.requester.pk}'", [assignment.pk]),
            ("target/email eq 'REQUESTER@contoso.example'", [assignment.pk]),
            (f"accessPackage/id eq '{world.package.pk}'", [assignment.pk]),
            (f"assignmentPolicy/id eq '{world.policy.pk}'", [assignment.pk]),
            ("state eq 'delivered'", [assignment.pk]),
            ("state eq 'delivering' and startswith(target/email,'member')", None),
            ("state eq 'expired'", [])):
        found = callers.reader.get(ASSIGNMENTS, {"$filter": expression}).json()["value"]
        if expected is None:
            assert [item["id"] for item in found] != [] and len(found) == 1, expression
        else:
            assert [int(item["id"]) for item in found] == expected, expression
    assert_graph_error(callers.reader.get(ASSIGNMENTS, {"$filter": "state eq 'gone'"}), 400,
                       "gone")
    assert_graph_error(callers.reader.get(ASSIGNMENTS, {"$filter": "colour eq 'red'"}), 400,
                       "colour")
    assert_graph_error(callers.reader.get(ASSIGNMENTS, {"$expand": "requests"}), 400,
                       "requests")


def test_who_sees_which_assignments(world, callers):
    assignment = delivered_assignment(world)
    url = f"{ASSIGNMENTS}/{assignment.pk}"
    assert callers.reader.get(url).json()["id"] == str(assignment.pk)
    assert callers.owner.get(url, {"$select": "state"}).json()["state"] == "delivered"
    # Their own, by id, though they read no catalog.
    assert person_client(world.requester).get(url).status_code == 200
    assert person_client(world.requester).get(ASSIGNMENTS).json()["value"] == []
    assert_refused_three_ways(callers, "get", url)
    assert_graph_error(callers.member.get(url), 404)
    assert callers.stranger.get(ASSIGNMENTS).json()["value"] == []
    assert_graph_error(callers.reader.get(f"{ASSIGNMENTS}/x1"), 404)
    assert_graph_error(callers.anonymous.get(ASSIGNMENTS), 401)


def test_filter_by_current_user(world, callers):
    assignment = delivered_assignment(world)
    mine = person_client(world.requester).get(f"{ASSIGNMENTS}/filterByCurrentUser(on='target')")
    assert [item["id"] for item in mine.json()["value"]] == [str(assignment.pk)]
    assert callers.member.get(f"{ASSIGNMENTS}/filterByCurrentUser(on='target')").json()[
        "value"] == []
    assert_graph_error(callers.member.get(f"{ASSIGNMENTS}/filterByCurrentUser(on='createdBy')"),
                       400, "target")
    assert_graph_error(callers.reader.get(f"{ASSIGNMENTS}/filterByCurrentUser(on='target')"),
                       400, "person")
    assert_graph_error(callers.anonymous.get(f"{ASSIGNMENTS}/filterByCurrentUser(on='target')"),
                       401)


def test_reprocess(world, callers):
    assignment = delivered_assignment(world)
    RoleDelivery.objects.filter(assignment=assignment).update(state=DeliveryState.FAILED)
    url = f"{ASSIGNMENTS}/{assignment.pk}/reprocess"
    assert_refused_three_ways(callers, "post", url)
    assert_graph_error(person_client(world.requester).post(url), 403, "reprocess")
    assert_graph_error(callers.member.post(url), 404)
    assert RoleDelivery.objects.filter(state=DeliveryState.FAILED).count() == 2
    response = callers.writer.post(url)
    assert response.status_code == 202 and response.content == b""
    assert not RoleDelivery.objects.filter(state=DeliveryState.FAILED).exists()
    assert callers.owner.post(url).status_code == 202


EXPAND_ALL = {"$expand": "target,accessPackage,assignmentPolicy"}


def test_a_page_costs_the_same_queries_for_2_and_20_assignments(world, callers):
    package, policy = open_package(world)

    def add(count):
        for _ in range(count):
            request_admin_add(actor=world.owner, access_package_id=package.pk,
                              policy_id=policy.pk, target=UserFactory())

    add(2)
    callers.owner.get(ASSIGNMENTS)  # the token's first use records it, once
    few, shown = page_cost(callers.owner, ASSIGNMENTS, EXPAND_ALL)
    assert shown == 2
    add(18)
    many, shown = page_cost(callers.owner, ASSIGNMENTS, EXPAND_ALL)
    assert shown == 20 and many == few


def test_navigation_properties_as_paths(world, callers):
    assignment = delivered_assignment(world)
    request = assignment.requests.get()
    package = callers.reader.get(f"{ASSIGNMENTS}/{assignment.pk}/accessPackage").json()
    assert package["displayName"] == "Falcon collaboration"
    assert package["@odata.context"].endswith("/accessPackages/$entity")
    policy = callers.owner.get(f"{ASSIGNMENTS}/{assignment.pk}/assignmentPolicy").json()
    assert policy["id"] == str(world.policy.pk)
    requests = f"{EM}/assignmentRequests/{request.pk}"
    assert callers.reader.get(f"{requests}/assignment").json()["id"] == str(assignment.pk)
    assert callers.reader.get(f"{requests}/accessPackage").json()["id"] == str(
        world.package.pk)
    requestor = person_client(world.requester).get(f"{requests}/requestor").json()
    assert requestor["objectId"] == str(world.requester.pk)
    for url in (f"{ASSIGNMENTS}/{assignment.pk}/accessPackage", f"{requests}/requestor"):
        assert_refused_three_ways(callers, "get", url)
        assert_graph_error(callers.member.get(url), 404)
    pending = request_submit(requestor=world.member,
                             access_package_id=member_package(world).pk)
    assert_graph_error(callers.reader.get(f"{EM}/assignmentRequests/{pending.pk}/assignment"),
                       404, "no assignment")
