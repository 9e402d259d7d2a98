"""assignmentRequests bodies as Microsoft's documents and Python SDK write them: snake_case
names for what the SDK has no field for, "UserAdd", "accessPackageAssignment", a target
given as a subject, a schedule with "stop_date_time": null, multiple-choice answers and a
duration as the SDK writes a timedelta."""

from datetime import timedelta

from governance import clock
from governance.choices import QuestionKind
from governance.models import Assignment, AssignmentRequest
from tests.api.conftest import EM, assert_graph_error, person_client
from tests.factories import UserFactory, add_question, open_package, snapshot

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
              "schedule": {"recurrence": {"pattern": {}}}}, ("schedule.recurrence",)),
            ({"requestType": "adminAdd", "assignment": assignment | {"targetId": "1"},
              "schedule": {"expiration": {"type": "noExpiration", "duration": "P3D"}}},
             ("noExpiration",)),
            ({"requestType": "adminAdd", "assignment": assignment | {"targetId": "1"},
              "schedule": {"expiration": {"type": "afterDateTime"}}},
             ("schedule.expiration.endDateTime",))):
        assert_graph_error(callers.writer.post(REQUESTS, body, format="json"), 400, *words)
    assert snapshot() == before
    assert not AssignmentRequest.objects.exists()


def test_multiple_choice_answers_and_a_chosen_schedule(world):
    package, policy = open_package(world, allow_custom_schedule=True)
    question = add_question(policy, "Which regions?", kind=QuestionKind.CHOICE,
                            allows_multiple_selection=True,
                            choices=[{"value": "eu", "text": "Europe"},
                                     {"value": "us", "text": "Americas"}])
    start = (clock.now() + timedelta(days=2)).replace(microsecond=0)
    chosen = [{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": value,
               "answeredQuestion": {
                   "@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion",
                   "id": str(question.pk)}} for value in ("eu", "us")]
    body = {"requestType": "userAdd", "answers": chosen,
            "assignment": {"accessPackageId": str(package.pk)},
            "schedule": {"startDateTime": start.isoformat().replace("+00:00", "Z"),
                         "expiration": {"type": None, "duration": "7 days, 0:00:00"}}}
    response = person_client(world.member).post(REQUESTS, body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["state"] == "scheduled"
    assert [(a["value"], a["displayValue"]) for a in created["answers"]] == [
        ("eu", "Europe"), ("us", "Americas")]
    question_json = created["answers"][0]["answeredQuestion"]
    assert question_json["@odata.type"] == "#microsoft.graph.accessPackageMultipleChoiceQuestion"
    assert question_json["isMultipleSelectionAllowed"] is True
    schedule = created["schedule"]
    assert schedule["expiration"]["type"] == "afterDateTime"
    assert schedule["expiration"]["endDateTime"] == (start + timedelta(days=7)).isoformat(
        ).replace("+00:00", "Z")
    request = AssignmentRequest.objects.get(pk=created["id"])
    assert request.answers.get().values == ["eu", "us"]
