"""assignmentRequests: list, read, filterByCurrentUser, create (each request type), cancel and
reprocess; what each caller may see and do."""


from governance.choices import AssignmentState, RequestState
from governance.models import Assignment, AssignmentRequest
from governance.services.requests import request_submit
from tests.api.conftest import (
    EM,
    assert_graph_error,
    assert_refused_three_ways,
    page_cost,
    person_client,
)
from tests.factories import (
    UserFactory,
    delivered_assignment,
    member_package,
    open_package,
    snapshot,
    submit_request,
)

REQUESTS = f"{EM}/assignmentRequests"


def answers(world, value="FAL-2026"):
    return [{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": value,
             "answeredQuestion": {"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
                                  "id": str(world.question.pk)}}]


def user_add(world, **extra):
    return {"requestType": "userAdd",
            "assignment": {"accessPackageId": str(world.package.pk),
                           "assignmentPolicyId": str(world.policy.pk)},
            "justification": "Joining the Falcon project", "answers": answers(world)} | extra


def post(client, body):
    return client.post(REQUESTS, body, format="json")


def test_user_add_waits_for_approval_with_graph_json(world):
    response = post(person_client(world.requester), user_add(world))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["@odata.context"].endswith("/assignmentRequests/$entity")
    assert (body["requestType"], body["state"]) == ("userAdd", "pendingApproval")
    assert body["status"] == "Pending approval, stage 1 of 2"
    assert body["requestor"]["objectId"] == str(world.requester.pk)
    assert body["justification"] == "Joining the Falcon project"
    assert body["createdDateTime"].endswith("Z") and body["completedDateTime"] is None
    [answer] = body["answers"]
    assert answer["value"] == answer["displayValue"] == "FAL-2026"
    assert answer["answeredQuestion"]["id"] == str(world.question.pk)
    assert answer["answeredQuestion"]["text"] == "Which project code?"
    assert body["schedule"]["expiration"]["type"] == "notSpecified"
    request = AssignmentRequest.objects.get(pk=body["id"])
    assert request.target == world.requester and request.answers.get().value == "FAL-2026"


def test_user_add_without_approval_is_delivering_with_its_assignment(world):
    package, policy = open_package(world)
    body = {"requestType": "userAdd",
            "assignment": {"accessPackageId": str(package.pk), "assignmentPolicyId": str(policy.pk),
                           "targetId": str(world.member.pk)}}
    response = post(person_client(world.member), body)
    assert response.status_code == 201, response.content
    created = person_client(world.member).get(f"{REQUESTS}/{response.json()['id']}",
                                              {"$expand": "assignment,accessPackage"}).json()
    assert created["state"] == "delivering"
    assert created["accessPackage"]["displayName"] == "Falcon wiki"
    assert created["assignment"]["state"] == "delivering"
    assert created["assignment"]["schedule"]["expiration"]["type"] == "afterDateTime"


def test_bad_bodies_are_400s_naming_the_problem_and_change_nothing(world):
    client = person_client(world.requester)
    before = snapshot()
    assignment = user_add(world)["assignment"]
    cases = [
        (user_add(world, colour="red"), ("colour",)),
        (user_add(world, assignment=assignment | {"foo": 1}), ("foo",)),
        (user_add(world, requestType="adminUpdate"), ("adminUpdate", "userAdd", "adminRemove")),
        (user_add(world, requestType=None), ("requestType",)),
        (user_add(world, justification=""), ("justification",)),
        (user_add(world, answers=answers(world, "nope")), ("answers", "question")),
        (user_add(world, answers=[{"value": "FAL-2026"}]), ("answeredQuestion",)),
        (user_add(world, answers={"x": 1}), ("answers",)),
        (user_add(world, schedule={"startDateTime": "yesterday"}),
         ("schedule.startDateTime",)),
        (user_add(world, schedule={"expiration": {"type": "afterDuration", "duration": "P1Y"}}),
         ("schedule.expiration.duration",)),
        (user_add(world, schedule={"expiration": {"type": "sometime"}}),
         ("schedule.expiration.type",)),
        (user_add(world, schedule={"startDateTime": "2030-01-01T00:00:00Z"}),
         ("schedule.startDateTime", "choose")),
        (user_add(world, assignment=assignment | {"accessPackageId": "999999"}),
         ("assignment.accessPackageId",)),
        (user_add(world, assignment=assignment | {"accessPackageId": "abc"}),
         ("assignment.accessPackageId",)),
        (user_add(world, assignment=assignment | {"assignmentPolicyId": "999999"}),
         ("assignment.assignmentPolicyId",)),
        (user_add(world, assignment=assignment | {"targetId": str(world.member.pk)}),
         ("targetId", "adminAdd")),
        (user_add(world, assignment=None), ("assignment",)),
        (user_add(world, state="delivered"), ("state",)),
    ]
    for body, words in cases:
        assert_graph_error(post(client, body), 400, *words)
    response = client.generic("POST", REQUESTS, "{oops", content_type="application/json")
    assert_graph_error(response, 400, "JSON")
    assert snapshot() == before


def test_an_application_cannot_make_a_person_s_request(world, callers):
    for request_type in ("userAdd", "userUpdate", "userRemove"):
        response = post(callers.writer, user_add(world, requestType=request_type))
        assert_graph_error(response, 400, "adminAdd")
    assert not AssignmentRequest.objects.exists()


def test_admin_add_by_an_application_and_by_the_owner(world, callers):
    package, policy = open_package(world)
    body = {"requestType": "adminAdd", "justification": "Onboarding",
            "assignment": {"accessPackageId": str(package.pk),
                           "assignmentPolicyId": str(policy.pk),
                           "targetId": str(world.member.pk)}}
    response = post(callers.writer, body)
    assert response.status_code == 201, response.content
    assert (response.json()["requestType"], response.json()["state"]) == ("adminAdd",
                                                                          "delivering")
    assert Assignment.objects.get(target=world.member).access_package == package
    other = UserFactory(email="colleague@access.example")
    response = post(callers.owner, body | {"assignment": body["assignment"]
                                           | {"targetId": str(other.pk)}})
    assert response.status_code == 201, response.content
    assert response.json()["requestor"]["email"] == "owner@access.example"


def test_admin_add_refused(world, callers):
    package, policy = open_package(world)
    before = snapshot()
    body = {"requestType": "adminAdd",
            "assignment": {"accessPackageId": str(package.pk),
                           "assignmentPolicyId": str(policy.pk),
                           "targetId": str(world.member.pk)}}
    assert_graph_error(post(callers.stranger, body), 403, "assign")
    assert_graph_error(post(callers.member, body), 403)
    assert_graph_error(post(callers.reader, body), 403, "EntitlementManagement.ReadWrite.All")
    assert_graph_error(post(callers.anonymous, body), 401)
    unknown_target = body["assignment"] | {"targetId": "999999"}
    assert_graph_error(post(callers.writer, body | {"assignment": unknown_target}), 400,
                       "assignment.targetId")
    no_policy = {k: v for k, v in body["assignment"].items() if k != "assignmentPolicyId"}
    assert_graph_error(post(callers.writer, body | {"assignment": no_policy}), 400,
                       "assignment.assignmentPolicyId")
    assert_graph_error(post(callers.writer, body | {"answers": answers(world)}), 400, "answers")
    assert snapshot() == before


def test_user_update_extends_the_caller_s_assignment(world):
    assignment = delivered_assignment(world)
    client = person_client(world.requester)
    body = {"requestType": "userUpdate", "assignment": {"id": str(assignment.pk)},
            "justification": "Still on Falcon", "answers": answers(world)}
    response = post(client, body)
    assert response.status_code == 201, response.content
    assert response.json()["requestType"] == "userUpdate"
    assert response.json()["state"] == "delivered"
    # Graph's older name, and the package instead of the assignment id, work as well.
    by_package = body | {"requestType": "userExtend",
                         "assignment": {"accessPackageId": str(world.package.pk)}}
    assert post(client, by_package).status_code == 201


def test_user_update_refused(world, callers):
    assignment = delivered_assignment(world)
    requester = person_client(world.requester)
    before = snapshot()
    body = {"requestType": "userUpdate", "assignment": {"id": str(assignment.pk)},
            "justification": "Mine now", "answers": answers(world)}
    # Someone else's assignment is unknown to a member.
    assert_graph_error(post(callers.member, body), 400, "assignment.id")
    assert_graph_error(post(callers.member, body | {"assignment": {
        "accessPackageId": str(world.package.pk)}}), 400, "no active assignment")
    assert_graph_error(post(requester, body | {
        "schedule": {"startDateTime": "2030-01-01T00:00:00Z"}}), 400, "startDateTime")
    # The owner may see it, but it is not theirs to extend.
    assert_graph_error(post(callers.owner, body), 403, "extended")
    assert snapshot() == before


def test_user_remove_and_admin_remove(world, callers):
    assignment = delivered_assignment(world)
    body = {"requestType": "userRemove", "assignment": {"id": str(assignment.pk)}}
    assert_graph_error(post(callers.member, body), 400, "assignment.id")
    response = post(person_client(world.requester), body)
    assert response.status_code == 201, response.content
    assert (response.json()["requestType"], response.json()["state"]) == ("userRemove",
                                                                          "delivered")
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.EXPIRED
    # Removing what has ended is a conflict.
    admin_body = {"requestType": "adminRemove", "assignment": {"id": str(assignment.pk)}}
    assert_graph_error(post(callers.writer, admin_body), 409, "ended")


def test_admin_remove_permissions(world, callers):
    assignment = delivered_assignment(world)
    body = {"requestType": "adminRemove", "assignment": {"id": str(assignment.pk)},
            "justification": "Project over"}
    requester = person_client(world.requester)
    before = snapshot()
    assert_graph_error(post(callers.stranger, body), 400, "assignment.id")
    assert_graph_error(post(callers.member, body), 400, "assignment.id")
    assert_graph_error(post(requester, body), 403, "remove")
    assert_graph_error(post(callers.reader, body), 403)
    assert_graph_error(post(callers.writer, {"requestType": "adminRemove", "assignment": {}}),
                       400, "assignment.id")
    assert snapshot() == before
    response = post(callers.owner, body)
    assert response.status_code == 201, response.content
    assert response.json()["requestType"] == "adminRemove"


def test_cancel_twice_and_permissions(world, callers):
    request = submit_request(world)
    url = f"{REQUESTS}/{request.pk}/cancel"
    assert_refused_three_ways(callers, "post", url)
    assert_graph_error(callers.member.post(url), 404)
    response = person_client(world.requester).post(url)
    assert response.status_code == 204 and response.content == b""
    request.refresh_from_db()
    assert request.state == RequestState.CANCELED
    assert_graph_error(person_client(world.requester).post(url), 409, "canceled")
    assert_graph_error(callers.writer.post(f"{REQUESTS}/abc/cancel"), 404)


def test_the_owner_cancels_a_request_of_their_catalog(world, callers):
    request = submit_request(world)
    assert callers.owner.post(f"{REQUESTS}/{request.pk}/cancel").status_code == 204


def test_reprocess(world, callers):
    package = member_package(world)
    pending = request_submit(requestor=world.member, access_package_id=package.pk)
    assert_graph_error(callers.writer.post(f"{REQUESTS}/{pending.pk}/reprocess"), 409,
                       "nothing to reprocess")
    assignment = delivered_assignment(world)
    delivered = assignment.requests.get()
    url = f"{REQUESTS}/{delivered.pk}/reprocess"
    assert_refused_three_ways(callers, "post", url)
    assert_graph_error(person_client(world.requester).post(url), 403, "reprocess")
    assert callers.writer.post(url).status_code == 202
    assert callers.owner.post(url).status_code == 202


def test_list_filter_expand_and_paging(world, callers):
    submit_request(world)
    package, policy = open_package(world)
    request_submit(requestor=world.member, access_package_id=package.pk, policy_id=policy.pk)
    everything = callers.reader.get(REQUESTS, {"$count": "true"}).json()
    assert everything["@odata.count"] == 2
    assert everything["@odata.context"].endswith("#identityGovernance/entitlementManagement/"
                                                 "assignmentRequests")
    pending = callers.reader.get(REQUESTS, {"$filter": "state eq 'pendingApproval'",
                                            "$expand": "accessPackage"}).json()["value"]
    assert [item["accessPackage"]["displayName"] for item in pending] == ["Falcon collaboration"]
    for expression in (f"accessPackage/id eq '{package.pk}'",
                       f"requestor/objectId eq '{world.member.pk}'",
                       "requestType eq 'userAdd' and not (state eq 'pendingApproval')",
                       "startswith(target/email,'member')"):
        found = callers.reader.get(REQUESTS, {"$filter": expression}).json()["value"]
        assert [item["requestor"]["email"] for item in found] == ["member@access.example"], \
            expression
    first = callers.reader.get(REQUESTS, {"$top": "1", "$select": "state"}).json()
    assert len(first["value"]) == 1 and set(first["value"][0]) == {"id", "state"}
    assert "$skiptoken=1" in first["@odata.nextLink"]
    ordered = callers.reader.get(REQUESTS, {"$orderby": "createdDateTime asc"}).json()["value"]
    assert [item["requestor"]["email"] for item in ordered] == [
        "requester@contoso.example", "member@access.example"]
    assert_graph_error(callers.reader.get(REQUESTS, {"$filter": "state eq 'done'"}), 400,
                       "done")
    assert_graph_error(callers.reader.get(REQUESTS, {"$expand": "policy"}), 400, "policy")


def test_who_sees_which_requests(world, callers):
    request = submit_request(world)
    url = f"{REQUESTS}/{request.pk}"
    assert callers.reader.get(url).status_code == 200
    assert callers.owner.get(url).json()["id"] == str(request.pk)
    assert person_client(world.requester).get(url).status_code == 200
    assert_refused_three_ways(callers, "get", url)
    assert_graph_error(callers.member.get(url), 404)
    assert callers.stranger.get(REQUESTS).json()["value"] == []
    assert callers.member.get(REQUESTS).json()["value"] == []
    assert_graph_error(callers.reader.get(f"{REQUESTS}/abc"), 404)
    assert_graph_error(callers.anonymous.get(REQUESTS), 401)


def test_filter_by_current_user(world, callers):
    request = submit_request(world)
    client = person_client(world.requester)
    for on in ("target", "createdBy"):
        mine = client.get(f"{REQUESTS}/filterByCurrentUser(on='{on}')").json()
        assert [item["id"] for item in mine["value"]] == [str(request.pk)]
    encoded = client.get(f"{REQUESTS}/filterByCurrentUser(on=%27target%27)").json()
    assert len(encoded["value"]) == 1
    assert callers.owner.get(f"{REQUESTS}/filterByCurrentUser(on='target')").json()[
        "value"] == []
    assert_graph_error(client.get(f"{REQUESTS}/filterByCurrentUser(on='approver')"), 400,
                       "createdBy")
    assert_graph_error(callers.writer.get(f"{REQUESTS}/filterByCurrentUser(on='target')"),
                       400, "person")
    assert_graph_error(callers.anonymous.get(f"{REQUESTS}/filterByCurrentUser(on='target')"),
                       401)


EXPANDED = {"$expand": "accessPackage,assignment"}


def test_a_page_costs_the_same_queries_for_2_and_20_requests(world, callers):
    package, policy = open_package(world)

    def add(count):
        for _ in range(count):
            request_submit(requestor=UserFactory(), access_package_id=package.pk,
                           policy_id=policy.pk)

    add(2)
    callers.reader.get(REQUESTS)  # the token's first use records it, once
    few, shown = page_cost(callers.reader, REQUESTS, EXPANDED)
    assert shown == 2
    add(18)
    many, shown = page_cost(callers.reader, REQUESTS, EXPANDED)
    assert shown == 20 and many == few
