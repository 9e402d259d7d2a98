"""A policy's questions: saving, changing, refusing and removing them. Each allowed path, each
refusal (with nothing written), and who may do what."""

import pytest

from governance.choices import (
    QuestionKind,
)
from governance.models import (
    Question,
)
from governance.services.errors import (
    InvalidInput,
    InvalidState,
)
from governance.services.questions import question_check, question_delete, question_save
from tests.config_helpers import events
from tests.factories import (
    submit_request,
)


def test_a_multiple_choice_question_is_saved_and_answered(world):
    question = question_save(actor=world.owner, policy_id=world.policy.pk,
                             kind=QuestionKind.CHOICE, text="  Which   region? ", sequence=2,
                             choices=[{"value": "eu", "text": "Europe",
                                       "localizations": {"fr": "Europe"}},
                                      {"value": "us", "text": "United States"}],
                             localizations={"fr": "Quelle région ?"})
    assert question.text == "Which region?" and question.regex_pattern == ""
    event = events("policy.questionAdded")[0]
    assert event.object_id == str(world.policy.pk) and event.after["question"] == question.pk
    request = submit_request(world, answers={world.question.pk: "FAL-2026",
                                             question.pk: "eu"})
    assert request.answers.get(question=question).display_value == "Europe"


def test_a_question_is_changed_and_audited(world):
    question_save(actor=world.owner, policy_id=world.policy.pk,
                  question_id=world.question.pk, text="Which project code?",
                  regex_pattern=r"[A-Z]{3}-\d{2}", is_required=False)
    world.question.refresh_from_db()
    assert world.question.regex_pattern == r"[A-Z]{3}-\d{2}" and not world.question.is_required
    event = events("policy.questionChanged")[0]
    assert (event.before["regexPattern"], event.after["regexPattern"]) == (
        r"[A-Z]{3}-\d{4}", r"[A-Z]{3}-\d{2}")


@pytest.mark.parametrize("fields,code,field", [
    ({"text": " "}, "questionRequired", "text"),
    ({"text": "x" * 501}, "questionTooLong", "text"),
    ({"regex_pattern": "[A-Z"}, "invalidPattern", "regex_pattern"),
    ({"kind": "essay"}, "invalidQuestionKind", "kind"),
    ({"kind": QuestionKind.CHOICE}, "choicesRequired", "choices"),
    ({"kind": QuestionKind.CHOICE, "choices": [{"value": "a", "text": "A"}],
      "regex_pattern": "a"}, "patternNotUsed", "regex_pattern"),
    ({"kind": QuestionKind.CHOICE, "choices": [{"value": "a", "text": "A"},
                                               {"value": "a", "text": "B"}]},
     "duplicateChoice", "choices"),
    ({"kind": QuestionKind.CHOICE, "choices": [{"value": "a", "text": ""}]},
     "invalidChoice", "choices"),
    ({"choices": [{"value": "a", "text": "A"}]}, "choicesNotUsed", "choices"),
    ({"localizations": {"xx": "?"}}, "unknownLanguage", "localizations"),
    ({"sequence": -1}, "invalidNumber", "sequence"),
])
def test_question_refusals(world, refused, fields, code, field):
    arguments = {"actor": world.owner, "policy_id": world.policy.pk, "text": "Why?"} | fields
    refused(lambda: question_save(**arguments), InvalidInput, code, field)
    checked = {name: value for name, value in arguments.items()
               if name not in ("actor", "policy_id")}
    with pytest.raises(InvalidInput):
        question_check(**checked)


def test_a_question_is_removed_until_someone_answers_it(world, refused):
    spare = question_save(actor=world.owner, policy_id=world.policy.pk, text="Anything else?",
                          is_required=False)
    question_delete(actor=world.owner, question_id=spare.pk)
    assert not Question.objects.filter(pk=spare.pk).exists()
    assert events("policy.questionRemoved")[0].before["text"] == "Anything else?"
    submit_request(world)
    refused(lambda: question_delete(actor=world.owner, question_id=world.question.pk),
            InvalidState, "questionAnswered", None, "optional")
