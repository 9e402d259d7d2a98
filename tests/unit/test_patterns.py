"""Question patterns: refused at save when they do not compile or cannot be matched in time,
and a pattern saved before these checks (written straight to the table, as old rows are)
answers a hostile answer with a refusal within a second instead of hanging the worker."""

import time

import pytest

from governance.models import Question, RequestAnswer
from governance.services.errors import InvalidInput
from governance.services.internal.patterns import (
    PROBE_LENGTH,
    REPEAT_SIZE_MAX,
    pattern_check,
    probe_inputs,
    repeat_size,
)
from governance.services.questions import question_save
from tests.config_helpers import config_snapshot
from tests.factories import snapshot, submit_request

# Each backtracks endlessly on a long run of one character that ends in one that fails.
BACKTRACKING = [r"(a+)+$", r"(a|aa)+$", r"(x+x+)+y", r"(.+)+", r"([a-z]+ ?)+",
                "(" * 6 + "a" + ")*" * 6]
# (pattern, an answer it takes, one it does not)
ORDINARY = [(r"[A-Z]{3}-\d{4}", "FAL-2026", "FAL-26"),
            (r"[^@\s]+@[^@\s]+\.[^@\s]+", "ana@contoso.com", "ana at contoso"),
            (r"[a-z]{2,64}@[a-z]{2,255}\.[a-z]{2,63}", "ana@contoso.com", "ana@contoso"),
            (r"(?i)(?:proj|prj)-\d{1,6}", "PRJ-42", "PRJ-"),
            (r"\w+( \w+)*", "Project Falcon", "Project  Falcon"),
            (r"(ab|a)+c", "abac", "abab")]


def _save(world, pattern: str) -> Question:
    return question_save(actor=world.owner, policy_id=world.policy.pk,
                         question_id=world.question.pk, text="Which project code?",
                         regex_pattern=pattern)


def _refused_at_save(world, pattern: str) -> InvalidInput:
    before = config_snapshot()
    with pytest.raises(InvalidInput) as caught:
        _save(world, pattern)
    assert caught.value.field == "regex_pattern"
    assert config_snapshot() == before
    return caught.value


@pytest.mark.parametrize("pattern", BACKTRACKING)
def test_a_pattern_that_backtracks_endlessly_is_refused_at_save(world, pattern):
    started = time.monotonic()
    refusal = _refused_at_save(world, pattern)
    assert time.monotonic() - started < 2
    assert refusal.code == "patternTooSlow"
    assert "takes too long" in refusal.message and "(a+)+" in refusal.message
    world.question.refresh_from_db()
    assert world.question.regex_pattern == r"[A-Z]{3}-\d{4}"


def test_the_probes_are_long_runs_of_the_pattern_s_own_characters():
    probes = probe_inputs(r"(a+)+$")
    assert "a" * (PROBE_LENGTH - 1) + "!" in probes
    assert all(len(probe) <= PROBE_LENGTH for probe in probes)
    assert "ab" * ((PROBE_LENGTH - 1) // 2) + "!" in probe_inputs(r"(ab|c)+")


def test_a_pattern_that_does_not_compile_is_refused_with_the_reason(world):
    refusal = _refused_at_save(world, "[A-Z")
    assert refusal.code == "invalidPattern"
    assert "not a valid regular expression: unterminated character set" in refusal.message


def test_repeats_that_multiply_past_the_limit_are_refused_before_compiling(world):
    # Compiling this one (no time limit there) takes seconds: it must never be tried.
    pattern = "(?:(?:(?:a{50}){50}){50}){50}"
    assert repeat_size(pattern) > REPEAT_SIZE_MAX
    started = time.monotonic()
    refusal = _refused_at_save(world, pattern)
    assert time.monotonic() - started < 0.5
    assert refusal.code == "patternTooComplex" and "smaller counts" in refusal.message


def test_repeat_size_counts_nested_repeats_and_not_braces_of_escapes():
    assert repeat_size(r"[A-Z]{3}-\d{4}") == 8
    assert repeat_size(r"(?:ab{10}){100}") == 100 * (3 + 10)
    assert repeat_size(r"\p{L}{2}[{]x") == 4
    assert repeat_size(r"[a-z]{2,64}@x") == 66


@pytest.mark.parametrize("pattern,taken,refused", ORDINARY)
def test_ordinary_patterns_are_saved_and_check_answers(world, pattern, taken, refused):
    pattern_check(pattern)
    assert _save(world, pattern).regex_pattern == pattern
    before = snapshot()
    with pytest.raises(InvalidInput) as caught:
        submit_request(world, answers={world.question.pk: refused})
    assert caught.value.code == "invalidAnswer"
    assert snapshot() == before
    request = submit_request(world, answers={world.question.pk: taken})
    assert request.answers.get().value == taken


def _stored(world, pattern: str) -> None:
    Question.objects.filter(pk=world.question.pk).update(regex_pattern=pattern)


def test_a_stored_backtracking_pattern_refuses_a_hostile_answer_within_a_second(world):
    _stored(world, r"(a|aa)+$")
    before = snapshot()
    started = time.monotonic()
    with pytest.raises(InvalidInput) as caught:
        submit_request(world, answers={world.question.pk: "a" * 1990 + "!"})
    assert time.monotonic() - started < 1
    refusal = caught.value
    assert (refusal.code, refusal.field) == ("answerCheckTimedOut",
                                            f"question_{world.question.pk}")
    assert "could not be checked against the pattern in time" in refusal.message
    assert "shorten it or contact the package's owner" in refusal.message
    assert snapshot() == before
    # A short answer is still checked by the same pattern.
    assert submit_request(world, answers={world.question.pk: "aaaa"}).answers.get().value \
        == "aaaa"


@pytest.mark.parametrize("pattern", ["[A-Z", "(?:(?:(?:a{50}){50}){50}){50}"])
def test_a_stored_pattern_that_cannot_be_used_refuses_with_a_message(world, pattern):
    _stored(world, pattern)
    started = time.monotonic()
    with pytest.raises(InvalidInput) as caught:
        submit_request(world)
    assert time.monotonic() - started < 1
    assert caught.value.code == "brokenPattern"
    assert "Contact the package's owner" in caught.value.message


def test_an_answer_longer_than_the_longest_checked_is_refused(world):
    _stored(world, r"a+")
    with pytest.raises(InvalidInput) as caught:
        submit_request(world, answers={world.question.pk: "a" * (RequestAnswer.VALUE_MAX + 1)})
    assert caught.value.code == "answerTooLong"
    assert f"at most {RequestAnswer.VALUE_MAX} characters" in caught.value.message
