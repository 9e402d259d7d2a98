"""Question patterns through the Graph API: a policy whose question has a pattern that
backtracks endlessly is a 400 naming regexPattern, and a request whose answer a stored pattern
cannot check in time is a 400 naming the question, not a hang or a 500."""

import time

from governance.models import AssignmentPolicy, AssignmentRequest, Question
from tests.api.conftest import assert_graph_error, person_client
from tests.api.test_policies_api import POLICIES, two_stage_policy
from tests.api.test_requests_api import REQUESTS, answers, user_add


def test_a_policy_with_a_backtracking_pattern_is_refused(world, callers):
    body = two_stage_policy(world)
    body["questions"][0]["regexPattern"] = r"(a+)+$"
    response = callers.owner.post(POLICIES, body, format="json")
    assert_graph_error(response, 400, "questions[0].regexPattern", "takes too long")
    assert AssignmentPolicy.objects.count() == 1 and Question.objects.count() == 1


def test_a_question_patched_with_a_backtracking_pattern_is_refused(world, callers):
    questions = [{"id": str(world.question.pk), "text": "Which code?",
                  "regexPattern": r"(x+x+)+y"}]
    response = callers.owner.patch(f"{POLICIES}/{world.policy.pk}", {"questions": questions},
                                   format="json")
    assert_graph_error(response, 400, "questions[0].regexPattern", "takes too long")
    world.question.refresh_from_db()
    assert world.question.regex_pattern == r"[A-Z]{3}-\d{4}"


def test_a_hostile_answer_to_a_stored_pattern_is_a_400_in_time(world):
    Question.objects.filter(pk=world.question.pk).update(regex_pattern=r"(a|aa)+$")
    started = time.monotonic()
    response = person_client(world.requester).post(
        REQUESTS, user_add(world, answers=answers(world, "a" * 1990 + "!")), format="json")
    assert time.monotonic() - started < 1
    assert_graph_error(response, 400, "could not be checked against the pattern in time")
    assert not AssignmentRequest.objects.exists()
