"""Checks of what a requestor typed: answers to questions and the chosen schedule."""

from collections.abc import Mapping
from datetime import datetime, timedelta

import regex
from django.utils.formats import date_format

from governance.choices import ExpirationType, QuestionKind
from governance.models import AssignmentPolicy, Question, RequestAnswer
from governance.services.errors import InvalidInput
from governance.services.internal.patterns import pattern_fullmatch

# A start a few minutes in the past is a clock difference, not a wish to backdate access.
START_TOLERANCE = timedelta(minutes=5)


def _question_field(question: Question) -> str:
    return f"question_{question.pk}"


def _matches(question: Question, value: str, label: str) -> bool:
    try:
        return pattern_fullmatch(question.regex_pattern, value)
    except TimeoutError:
        raise InvalidInput(
            f"The answer to “{label}” could not be checked against the pattern in time; "
            "shorten it or contact the package's owner.",
            field=_question_field(question), code="answerCheckTimedOut") from None
    except regex.error:
        raise InvalidInput(
            f"The answer to “{label}” cannot be checked: the question's pattern is broken. "
            "Contact the package's owner.",
            field=_question_field(question), code="brokenPattern") from None


def _text_answer(question: Question, raw, label: str) -> RequestAnswer | None:
    value = ("" if raw is None else str(raw)).strip()
    if not value:
        return None
    if question.is_single_line and "\n" in value:
        raise InvalidInput(f"The answer to “{label}” must fit on one line.",
                           field=_question_field(question), code="invalidAnswer")
    if len(value) > RequestAnswer.VALUE_MAX:
        raise InvalidInput(f"The answer to “{label}” can have at most "
                           f"{RequestAnswer.VALUE_MAX} characters.",
                           field=_question_field(question), code="answerTooLong")
    if question.regex_pattern and not _matches(question, value, label):
        raise InvalidInput(f"The answer to “{label}” does not have the expected form.",
                           field=_question_field(question), code="invalidAnswer")
    return RequestAnswer(question=question, value=value, display_value=value)


def _choice_answer(question: Question, raw, label: str,
                   language: str | None) -> RequestAnswer | None:
    values = [str(value) for value in (raw if isinstance(raw, list | tuple) else [raw])
              if value not in (None, "")]
    if not values:
        return None
    if len(values) > 1 and not question.allows_multiple_selection:
        raise InvalidInput(f"Choose only one answer to “{label}”.",
                           field=_question_field(question), code="invalidAnswer")
    offered = {choice["value"]: choice for choice in question.choices}
    unknown = [value for value in values if value not in offered]
    if unknown:
        raise InvalidInput(f"“{unknown[0]}” is not one of the answers offered for “{label}”.",
                           field=_question_field(question), code="invalidAnswer")
    shown = [offered[value].get("localizations", {}).get(language or "", offered[value]["text"])
             for value in values]
    return RequestAnswer(question=question, value=values[0], values=values,
                         display_value=", ".join(shown))


def answers_validate(policy: AssignmentPolicy, answers: Mapping | None,
                     language: str | None = None) -> list[RequestAnswer]:
    """Unsaved answer rows for the policy's questions, or InvalidInput naming the question."""
    answers = {str(key): value for key, value in (answers or {}).items()}
    questions = list(policy.questions.all())
    known = {str(question.pk) for question in questions}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise InvalidInput("An answer was given to a question this policy does not ask.",
                           field=f"question_{unknown[0]}", code="invalidAnswer")
    rows = []
    for question in questions:
        label = question.text_for(language)
        raw = answers.get(str(question.pk))
        if question.kind == QuestionKind.CHOICE:
            row = _choice_answer(question, raw, label, language)
        else:
            row = _text_answer(question, raw, label)
        if row is None and question.is_required:
            raise InvalidInput(f"Answer the question “{label}”.",
                               field=_question_field(question), code="answerRequired")
        if row is not None:
            rows.append(row)
    return rows


def policy_latest_end(policy: AssignmentPolicy, start: datetime) -> datetime | None:
    """The latest end that the policy allows for access starting at `start`; None: no end."""
    if policy.expiration_type == ExpirationType.AFTER_DATETIME:
        return policy.expiration_end_at
    if policy.expiration_type == ExpirationType.AFTER_DURATION:
        return start + policy.expiration_duration
    return None


def schedule_validate(policy: AssignmentPolicy, *, now: datetime,
                      start_at: datetime | None = None,
                      end_at: datetime | None = None) -> tuple[datetime | None, datetime | None]:
    """The (start, end) a request asks for, checked against the policy. None start: at once."""
    if (start_at or end_at) and not policy.allow_custom_schedule:
        raise InvalidInput("This policy does not let you choose when access starts or ends.",
                           field="start_at", code="scheduleNotAllowed")
    if start_at and start_at < now - START_TOLERANCE:
        raise InvalidInput("The start date is in the past.", field="start_at",
                           code="scheduleOutOfPolicy")
    effective_start = start_at or now
    latest_end = policy_latest_end(policy, effective_start)
    if latest_end is not None and latest_end <= effective_start:
        raise InvalidInput(
            f"This policy gives access only until {date_format(latest_end, 'DATE_FORMAT')}.",
            field="start_at", code="scheduleOutOfPolicy")
    if end_at is not None:
        if end_at <= effective_start:
            raise InvalidInput("The end date must be after the start date.", field="end_at",
                               code="scheduleOutOfPolicy")
        if latest_end is not None and end_at > latest_end:
            raise InvalidInput(
                "The end date is past what this policy allows: "
                f"{date_format(latest_end, 'DATETIME_FORMAT')} at the latest.",
                field="end_at", code="scheduleOutOfPolicy")
    return start_at, end_at
