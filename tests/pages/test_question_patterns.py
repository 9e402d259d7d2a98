"""Question patterns through the pages: the policy admin refuses one that backtracks endlessly
beside its field, and the request form answers a hostile answer to a pattern stored before
the checks with a refusal beside the question, within a second, never a hang or a 500."""

import time

from django.urls import reverse

from governance.models import AssignmentRequest, Question, RequestAnswer
from tests.config_helpers import config_snapshot
from tests.pages.test_package_builder_admin import POLICIES, policy_form, question_form


def test_the_policy_admin_refuses_a_backtracking_pattern_beside_its_field(world, as_user):
    form = policy_form(world, world.package, display_name="Second policy",
                       **question_form(regex_pattern=r"(a+)+$"),
                       **{"questions-TOTAL_FORMS": "1", "_save": "Save"})
    before = config_snapshot()
    response = as_user(world.owner).post(reverse(f"{POLICIES}_add"), form)
    assert response.status_code == 200
    question = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert "takes too long to check" in question.errors["regex_pattern"][0]
    assert config_snapshot() == before


def test_the_policy_admin_still_saves_an_ordinary_pattern(world, as_user):
    form = policy_form(world, world.package, display_name="Second policy",
                       **question_form(regex_pattern=r"[A-Z]{3}-\d{2,4}"),
                       **{"questions-TOTAL_FORMS": "1", "_save": "Save"})
    response = as_user(world.owner).post(reverse(f"{POLICIES}_add"), form)
    assert response.status_code == 302
    assert Question.objects.filter(policy__display_name="Second policy",
                                   regex_pattern=r"[A-Z]{3}-\d{2,4}").exists()


def _post_answer(client, world, answer: str):
    return client.post(reverse("package_detail", args=[world.package.pk]),
                       {"justification": "Joining the Falcon project",
                        f"question_{world.question.pk}": answer})


def test_a_hostile_answer_to_a_stored_pattern_is_refused_in_time(world, as_user):
    # As a row saved before patterns were checked at save time.
    Question.objects.filter(pk=world.question.pk).update(regex_pattern=r"(a|aa)+$")
    client = as_user(world.requester)
    started = time.monotonic()
    response = _post_answer(client, world, "a" * 1990 + "!")
    assert time.monotonic() - started < 1
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_question_{world.question.pk}_error"' in html
    assert "could not be checked against the pattern in time" in html
    assert "shorten it or contact the package&#x27;s owner" in html
    assert not AssignmentRequest.objects.exists() and not RequestAnswer.objects.exists()
    # An answer the same pattern can check is taken.
    assert _post_answer(client, world, "aaaa").status_code == 302
    assert RequestAnswer.objects.get().value == "aaaa"
