"""assignmentRequests bodies as Microsoft's documents and Python SDK write them: snake_case
names for what the SDK has no field for, "UserAdd", "accessPackageAssignment", a target
given as a subject, a schedule with "stop_date_time": null."""

from governance.models import Assignment, AssignmentRequest
from tests.api.conftest import EM, assert_graph_error, person_client
from tests.factories import UserFactory, open_package, snapshot

REQUESTS = f"{EM}/assignmentRequests"


def test_sdk_admin_add_with_snake_case_additional_data(world, callers):
    package, policy = open_package(world)
    body = {"@odata.type": "#microsoft.graph.accessPackageAssignmentRequest",
            "requestType": "adminAdd",
            "assignment": {"@odata.type": "#microsoft.graph.accessPackageAssignment",
                           "target_id": str(world.member.pk),
                           "assignment_policy_id": str(policy.pk),
                           "access_package_id": str(package.pk)}}
    response = callers.writer.post(REQUESTS, body, format="json")
    assert response.status_code == 201, response.content
    assert Assignment.objects.get(target=world.member).access_package == package


def test_documented_spellings(world, callers):
    package, policy = open_package(world)
    colleague = UserFactory(email="colleague@access.example")
    by_email = {"requestType": "AdminAdd",
                "accessPackageAssignment": {"target": {"email": "Colleague@access.example"},
                                            "assignmentPolicyId": str(policy.pk),
                                            "accessPackageId": str(package.pk)}}
    response = callers.writer.post(REQUESTS, by_email, format="json")
    assert response.status_code == 201, response.content
    assert AssignmentRequest.objects.get(pk=response.json()["id"]).target == colleague

    mine = {"requestType": "UserAdd", "justification": "Need the wiki",
            "assignment": {"accessPackageId": str(package.pk),
                           "target": {"objectId": str(world.member.pk),
                                      "subjectType": "user"}},
            "answers": [],
            "schedule": {"start_date_time": None, "stop_date_time": None}}
    response = person_client(world.member).post(REQUESTS, mine, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["justification"] == "Need the wiki"


def test_documented_spellings_refused(world, callers):
    package, policy = open_package(world)
    before = snapshot()
    assignment = {"assignmentPolicyId": str(policy.pk), "accessPackageId": str(package.pk)}
    for body, words in (
            ({"requestType": "AdminAdd",
              "accessPackageAssignment": assignment | {"target": {"email": "new@x.example"}}},
             ("assignment.target.email", "new@x.example")),
            ({"requestType": "adminAdd",
              "assignment": assignment | {"target": {"objectId": "999999"}}},
             ("assignment.target.objectId",)),
            ({"requestType": "adminAdd",
              "assignment": assignment | {"target": {"mood": "happy"}}}, ("mood",)),
            ({"requestType": "adminAdd", "assignment": assignment,
              "accessPackageAssignment": assignment}, ("not both",)),
            ({"requestType": "adminUpdate", "assignment": assignment}, ("adminUpdate",)),
            ({"requestType": "adminAdd", "assignment": assignment | {"targetId": "1"},
              "schedule": {"recurrence": {"pattern": {}}}}, ("schedule.recurrence",))):
        assert_graph_error(callers.writer.post(REQUESTS, body, format="json"), 400, *words)
    assert snapshot() == before
    assert not AssignmentRequest.objects.exists()
