"""The questions a policy asks requestors: checked, saved, changed and removed, each under
the lock of its policy's package."""


from django.conf import settings
from django.db import transaction

from governance.choices import (
    QuestionKind,
)
from governance.models import (
    Question,
    User,
)
from governance.selectors.permissions import Capability
from governance.services.audit import audit_record, audit_saved
from governance.services.errors import InvalidInput, InvalidState
from governance.services.internal.config_checks import (
    max_length,
    require,
)
from governance.services.internal.guards import (
    locked_or_not_found,
    locked_under_parent,
)
from governance.services.internal.patterns import pattern_check
from governance.services.policies import policy_lock

QUESTION_MAX = max_length(Question, "text")
PATTERN_MAX = max_length(Question, "regex_pattern")


def _check_localizations(localizations, field_name: str) -> dict:
    localizations = localizations or {}
    if not isinstance(localizations, dict):
        raise InvalidInput("Give the translations as language and text.", field=field_name,
                           code="invalidLocalizations")
    languages = dict(settings.LANGUAGES)
    cleaned = {}
    for language, text in localizations.items():
        if language not in languages:
            raise InvalidInput(f"“{language}” is not one of the portal's languages "
                               f"({', '.join(languages)}).", field=field_name,
                               code="unknownLanguage")
        text = " ".join(str(text or "").split())
        if not text:
            raise InvalidInput(f"The {languages[language]} text is empty.", field=field_name,
                               code="invalidLocalizations")
        cleaned[language] = text
    return cleaned


def _check_choices(choices) -> list[dict]:
    cleaned, seen = [], set()
    for choice in choices or ():
        if not isinstance(choice, dict):
            raise InvalidInput("Each choice has a value and a text.", field="choices",
                               code="invalidChoice")
        value = str(choice.get("value") or "").strip()
        text = " ".join(str(choice.get("text") or "").split())
        if not value or not text:
            raise InvalidInput("Each choice has a value and a text.", field="choices",
                               code="invalidChoice")
        if value in seen:
            raise InvalidInput(f"Two choices have the value “{value}”; each needs its own.",
                               field="choices", code="duplicateChoice")
        seen.add(value)
        entry = {"value": value, "text": text}
        localizations = _check_localizations(choice.get("localizations"), "choices")
        if localizations:
            entry["localizations"] = localizations
        cleaned.append(entry)
    if not cleaned:
        raise InvalidInput("A multiple-choice question needs choices to choose from.",
                           field="choices", code="choicesRequired")
    return cleaned


def question_check(*, text: str, kind: str = QuestionKind.TEXT, sequence: int = 0,
                   is_required: bool = True, is_answer_editable: bool = False,
                   is_single_line: bool = True, regex_pattern: str = "", choices=(),
                   allows_multiple_selection: bool = False, localizations=None) -> dict:
    """A question's fields as they would be saved, or InvalidInput naming the field.

    Reads nothing: the admin asks it of a question whose policy is not saved yet.
    """
    if kind not in QuestionKind.values:
        raise InvalidInput("Choose a text or a multiple-choice question.", field="kind",
                           code="invalidQuestionKind")
    text = " ".join((text or "").split())
    if not text:
        raise InvalidInput("Write the question the requestor answers.", field="text",
                           code="questionRequired")
    if len(text) > QUESTION_MAX:
        raise InvalidInput(f"A question can have at most {QUESTION_MAX} characters.",
                           field="text", code="questionTooLong")
    try:
        sequence = int(sequence or 0)
    except (TypeError, ValueError):
        raise InvalidInput("The order is a whole number.", field="sequence",
                           code="invalidNumber") from None
    if sequence < 0:
        raise InvalidInput("The order is 0 or more.", field="sequence", code="invalidNumber")
    fields = {"text": text, "kind": kind, "sequence": sequence,
              "is_required": bool(is_required), "is_answer_editable": bool(is_answer_editable),
              "localizations": _check_localizations(localizations, "localizations")}
    pattern = (regex_pattern or "").strip()
    if kind == QuestionKind.CHOICE:
        if pattern:
            raise InvalidInput("A multiple-choice question has no pattern: its answers are the "
                               "choices.", field="regex_pattern", code="patternNotUsed")
        return fields | {"choices": _check_choices(choices), "regex_pattern": "",
                         "is_single_line": True,
                         "allows_multiple_selection": bool(allows_multiple_selection)}
    if choices:
        raise InvalidInput("A text question has no choices; make it a multiple-choice "
                           "question, or clear them.", field="choices", code="choicesNotUsed")
    if len(pattern) > PATTERN_MAX:
        raise InvalidInput(f"A pattern can have at most {PATTERN_MAX} characters.",
                           field="regex_pattern", code="patternTooLong")
    if pattern:
        pattern_check(pattern)
    return fields | {"choices": [], "regex_pattern": pattern,
                     "is_single_line": bool(is_single_line), "allows_multiple_selection": False}


def _question_snapshot(question: Question) -> dict:
    return {"question": question.pk, "text": question.text, "kind": question.kind,
            "sequence": question.sequence, "isRequired": question.is_required,
            "isAnswerEditable": question.is_answer_editable,
            "isSingleLine": question.is_single_line, "regexPattern": question.regex_pattern,
            "choices": question.choices,
            "allowsMultipleSelection": question.allows_multiple_selection,
            "localizations": question.localizations}


def question_save(*, actor: User, policy_id: int, question_id: int | None = None,
                  **fields) -> Question:
    """Add a question to a policy, or change one; `fields` are question_check's."""
    with transaction.atomic():
        policy = policy_lock(policy_id)
        require(actor, policy.access_package.catalog, Capability.PACKAGES, "change policies")
        cleaned = question_check(**fields)
        if question_id is None:
            question, before = Question(policy=policy), None
        else:
            question = locked_or_not_found(policy.questions, question_id,
                                           "This question does not exist.",
                                           code="questionNotFound")
            before = _question_snapshot(question)
        for name, value in cleaned.items():
            setattr(question, name, value)
        question.save()
        audit_saved(actor=actor, obj=policy, before=before, after=_question_snapshot(question),
                    created="policy.questionAdded", changed="policy.questionChanged")
    return question


def question_delete(*, actor: User, question_id: int) -> None:
    """Remove a question that no request has answered yet."""
    with transaction.atomic():
        question = locked_under_parent(Question, question_id, "policy", policy_lock,
                                       "This question does not exist.",
                                       code="questionNotFound")
        policy = question.policy
        require(actor, policy.access_package.catalog, Capability.PACKAGES, "change policies")
        answered = question.answers.count()
        if answered:
            raise InvalidState(f"“{question}” has been answered in {answered} "
                               f"request{'s' if answered > 1 else ''}, which keep it; make it "
                               "optional instead.", code="questionAnswered")
        audit_record(actor=actor, action="policy.questionRemoved", obj=policy,
                     before=_question_snapshot(question))
        question.delete()
