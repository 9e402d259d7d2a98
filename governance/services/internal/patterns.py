"""Question patterns that catalog owners write, matched so that none can hang a worker.

Python's `re` has no time limit, and a pattern such as ``(a+)+$`` backtracks for ages on
``aaaa…!``. Patterns are compiled and matched with the `regex` package, whose matches take a
`timeout`. At save time a pattern is refused when it does not compile, when its repeat counts
would make compiling itself slow (compiling has no time limit), or when it runs out of time on
long answers built from its own characters.
"""

import functools
import re
import time

import regex

from governance.services.errors import InvalidInput

MATCH_TIMEOUT = 0.1  # seconds
# The regex package turns many endless patterns such as (a+)+ into ones that slow down with
# the answer's length ((a+)+$: 30 ms at 2000 characters, over 0.2 s at 4000). The probes are
# two and a half times as long as an answer can be, so a pattern that grows slow is refused
# well before an answer could make it time out, with room left for a busier machine.
PROBE_LENGTH = 5000
PROBE_TIMEOUT = MATCH_TIMEOUT
# All probes of one pattern together: a pattern this slow on ordinary text is refused too.
PROBE_BUDGET = 1.0
# Compiling unrolls counted repeats: (?:(?:(?:a{50}){50}){50}){50} takes seconds to compile.
REPEAT_SIZE_MAX = 100_000

_METACHARACTERS = set("\\()[]{}|*+?^$.")
# Escapes whose braces are their own (\p{L}), not a repeat of them (\d{4}).
_BRACED = set("pPNx")
_REPEAT = re.compile(r"\{(\d*)(?:,(\d*))?\}")
# Class escapes stand for characters that the probes must contain as well.
_CLASS_SAMPLES = "aZ1 _-.@"
# Tails that make a run fail to match, which is what sends a pattern backtracking.
_TAILS = ("!", "~", "#", "\x00", "\n")


@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> regex.Pattern:
    # Checked here too, for patterns saved before this check existed.
    if repeat_size(pattern) > REPEAT_SIZE_MAX:
        raise regex.error(f"its repeat counts multiply past {REPEAT_SIZE_MAX:,}")
    return regex.compile(pattern)


def pattern_fullmatch(pattern: str, value: str) -> bool:
    """Whether the whole value matches.

    TimeoutError when that is not known in time; regex.error when the pattern (saved before
    the checks at save time) does not compile.
    """
    return _compiled(pattern).fullmatch(value, timeout=MATCH_TIMEOUT) is not None


def _skip_class(pattern: str, start: int) -> int:
    """The index after the character class opened at `start`."""
    index = start + 1
    if index < len(pattern) and pattern[index] == "^":
        index += 1
    if index < len(pattern) and pattern[index] == "]":  # a ] first is a literal
        index += 1
    while index < len(pattern) and pattern[index] != "]":
        index += 2 if pattern[index] == "\\" else 1
    return index + 1


def _skip_escape(pattern: str, start: int) -> int:
    """The index after the escape at `start`, braces included (\\p{L}, \\x{263a})."""
    index = start + 2
    if index < len(pattern) and pattern[index] == "{" and pattern[start + 1] in _BRACED:
        closing = pattern.find("}", index)
        return len(pattern) if closing < 0 else closing + 1
    return index


def repeat_size(pattern: str) -> int:
    """About how many units compiling unrolls: counted repeats multiply what they repeat.

    A rough scan, not a parser: where it misreads, it counts too much, never too little.
    """
    open_groups = [0]  # the size so far of each open group, the pattern's own first
    last = 0  # the size of the atom a quantifier right here would repeat
    index = 0
    while index < len(pattern):
        character = pattern[index]
        repeat = _REPEAT.match(pattern, index) if character == "{" else None
        if repeat and (repeat[1] or repeat[2]):
            count = max(int(repeat[1] or 0), int(repeat[2] or 0))
            open_groups[-1] += last * max(count - 1, 0)
            last *= count
            index = repeat.end()
            continue
        if character == "(":
            open_groups.append(0)
            index += 1
            continue
        if character == ")" and len(open_groups) > 1:
            last = max(open_groups.pop(), 1)
            open_groups[-1] += last
            index += 1
            continue
        if character == "\\":
            index = _skip_escape(pattern, index)
        elif character == "[":
            index = _skip_class(pattern, index)
        else:
            index += 1
        last = 1
        open_groups[-1] += 1
    return sum(open_groups)


def _literal_runs(pattern: str) -> list[str]:
    """The runs of plain characters in the pattern: "ab" and "c" in (ab|c)+."""
    runs, run, index = [], "", 0
    while index < len(pattern):
        character = pattern[index]
        if character == "\\" and index + 1 < len(pattern) \
                and not pattern[index + 1].isalnum():
            run += pattern[index + 1]
            index += 2
            continue
        if character in _METACHARACTERS or character == "\\":
            if run:
                runs.append(run)
            run = ""
            index = _skip_escape(pattern, index) if character == "\\" else index + 1
            continue
        run += character
        index += 1
    if run:
        runs.append(run)
    return runs


def probe_inputs(pattern: str) -> list[str]:
    """Long answers that make a backtracking pattern slow: runs of the pattern's own
    characters (and of what its classes stand for), ended by a character that fails."""
    characters = sorted(set(pattern) - _METACHARACTERS | set(_CLASS_SAMPLES))
    runs = sorted(set(_literal_runs(pattern)) - set(characters), key=lambda run: (len(run), run))
    units = characters + runs + ["".join(characters)]
    tails = [tail for tail in _TAILS if tail not in pattern][:1] + ["\n"]
    probes = []
    for unit in units:
        body = unit * ((PROBE_LENGTH - 1) // len(unit))
        probes += [body + tail for tail in tails]
    return probes


def _refuse_slow(pattern: str) -> None:
    compiled = _compiled(pattern)
    deadline = time.monotonic() + PROBE_BUDGET
    for probe in probe_inputs(pattern):
        try:
            compiled.fullmatch(probe, timeout=PROBE_TIMEOUT)
        except TimeoutError:
            shown = probe[:3] + "…" + repr(probe[-1])[1:-1]
            raise InvalidInput(
                f"The pattern takes too long to check on a long answer such as “{shown}”: "
                "it can try the same text in endless ways, as a repeat inside a repeat such as "
                "(a+)+ does. Rewrite it so that each part of an answer can match only one way, "
                "e.g. a+ instead of (a+)+.",
                field="regex_pattern", code="patternTooSlow") from None
        if time.monotonic() > deadline:
            raise InvalidInput(
                "The pattern takes too long to check on long answers; make it simpler.",
                field="regex_pattern", code="patternTooSlow")


def pattern_check(pattern: str) -> None:
    """Refuse a pattern that does not compile or that cannot be matched in time."""
    if repeat_size(pattern) > REPEAT_SIZE_MAX:
        raise InvalidInput(
            f"The pattern's repeat counts multiply past {REPEAT_SIZE_MAX:,}, too many to check "
            "answers quickly; use smaller counts.",
            field="regex_pattern", code="patternTooComplex")
    try:
        _compiled(pattern)
    except regex.error as error:
        raise InvalidInput(f"The pattern is not a valid regular expression: {error}.",
                           field="regex_pattern", code="invalidPattern") from None
    _refuse_slow(pattern)
