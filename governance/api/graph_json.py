"""Microsoft Graph's JSON: camelCase keys, ISO 8601 instants (with Z) and durations.

Incoming values are checked here with errors that name the field; each raises
``errors.GraphError`` (a 400 "BadRequest" once the exception handler is wired).
"""

import datetime
import json
import re

import isodate
from django.utils import timezone

from .errors import GraphError
from .graph_paths import camel


class InvalidBody(GraphError):
    code = "BadRequest"


def camel_keys(value):
    """A dict (or list of dicts, nested) with its keys in camelCase; '@odata.*' kept."""
    if isinstance(value, dict):
        return {(k if k.startswith("@") else camel(k)): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(v) for v in value]
    return value


def instant(value: datetime.datetime | None) -> str | None:
    """An aware datetime as Graph writes it: UTC, ``2026-01-31T09:30:00Z`` (a fraction only
    when there is one). Called for every date of every item of a page: kept lean."""
    if value is None:
        return None
    # The database hands back datetime.UTC: no conversion then (naive ones are meant as UTC).
    if value.tzinfo is not None and value.tzinfo is not datetime.UTC:
        value = value.astimezone(datetime.UTC)
    text = value.replace(tzinfo=None).isoformat()
    if value.microsecond:
        text = text.rstrip("0")
    return text + "Z"


def duration(value: datetime.timedelta | None) -> str | None:
    """A timedelta as an ISO 8601 duration, ``P7D``, ``PT12H``."""
    if value is None:
        return None
    return isodate.duration_isoformat(value)


# Instants after this year, and durations longer than a thousand years, are refused: dates
# computed from them (an end after a duration, a reminder) would pass the last date Python
# and PostgreSQL hold.
LAST_YEAR = 9998
LONGEST = datetime.timedelta(days=366_000)


def parse_instant(value, field: str) -> datetime.datetime | None:
    """An ISO 8601 date-time with an offset (or Z) from a body; None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidBody(f"{field}: expected an ISO 8601 date-time string, got {value!r}.")
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidBody(
            f"{field}: '{value}' is not an ISO 8601 date-time "
            "(e.g. 2026-01-31T09:30:00Z).") from None
    if timezone.is_naive(parsed):
        raise InvalidBody(f"{field}: '{value}' has no time zone; add Z or an offset.")
    try:
        too_late = parsed.astimezone(datetime.UTC).year > LAST_YEAR
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last date Python has
        too_late = True
    if too_late:
        raise InvalidBody(f"{field}: '{value}' is too far in the future.")
    return parsed


_PYTHON_TIMEDELTA = re.compile(
    r"(?:(?P<days>\d+) days?, )?(?P<hours>\d+):(?P<minutes>\d{2}):(?P<seconds>\d{2}(?:\.\d+)?)")


def parse_duration(value, field: str, *, allow_zero: bool = False) -> datetime.timedelta | None:
    """An ISO 8601 duration (``P7D``, ``PT8H``) from a body; months and years are refused,
    since their length depends on the date they start from."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidBody(f"{field}: expected an ISO 8601 duration string, got {value!r}.")
    python_form = _PYTHON_TIMEDELTA.fullmatch(value.strip())
    if python_form:
        # Microsoft's Python Graph SDK (kiota) sends str(timedelta): "30 days, 0:00:00".
        days, hours, minutes, seconds = (python_form.group(name) or "0" for name in
                                         ("days", "hours", "minutes", "seconds"))
        value = f"P{int(days)}DT{int(hours)}H{int(minutes)}M{float(seconds):g}S"
    try:
        parsed = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError):
        raise InvalidBody(
            f"{field}: '{value}' is not an ISO 8601 duration (e.g. P7D or PT12H).") from None
    except OverflowError:  # more days than a timedelta holds
        parsed = None
    if parsed is None or (isinstance(parsed, datetime.timedelta) and parsed > LONGEST):
        raise InvalidBody(f"{field}: '{value}' is far too long.")
    if isinstance(parsed, isodate.Duration):
        raise InvalidBody(f"{field}: '{value}' uses months or years; give days instead (P30D).")
    if parsed < datetime.timedelta(0) or (parsed == datetime.timedelta(0) and not allow_zero):
        raise InvalidBody(f"{field}: '{value}' must be a positive duration.")
    return parsed


def parse_enum(value, field: str, allowed) -> str:
    """One of Graph's enum values, compared exactly as the reference writes them."""
    allowed = list(allowed)
    if value not in allowed:
        raise InvalidBody(f"{field}: '{value}' is not one of {', '.join(allowed)}.")
    return value


def load_body(raw: bytes | str) -> dict:
    """A request body that must be a JSON object; malformed JSON is a 400."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidBody("The request body is not UTF-8.") from None
    if not raw.strip():
        raise InvalidBody("The request body is empty; a JSON object was expected.")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidBody(
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}.") from None
    if not isinstance(body, dict):
        raise InvalidBody("The request body must be a JSON object.")
    _refuse_nul(body)
    return body


def _refuse_nul(value, path: str = "") -> None:
    """PostgreSQL text holds no NUL character: refuse one anywhere in a body, naming where."""
    if isinstance(value, str) and "\x00" in value:
        raise InvalidBody(f"{path or 'body'}: text may not contain the NUL character (\\u0000).")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, path or "body")
            _refuse_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, f"{path}[{index}]")


def reject_unknown(body: dict, allowed, type_name: str) -> None:
    """Refuse properties the resource type does not have (``@odata.*`` annotations pass)."""
    if not isinstance(body, dict):
        raise InvalidBody(f"A {type_name} must be a JSON object.")
    unknown = sorted(k for k in body if k not in set(allowed) and not k.startswith("@odata."))
    if unknown:
        names = ", ".join(f"'{k}'" for k in unknown)
        raise InvalidBody(f"{type_name} has no property {names}.", code="BadRequest")


class Body:
    """A request body read property by property, each check naming the property it refuses.

    ``allowed`` lists every property the entity type accepts (others are refused at once);
    a property that is absent gives the default, so that PATCH changes only what it names.
    """

    def __init__(self, data: dict, allowed, type_name: str):
        reject_unknown(data, allowed, type_name)
        self.data = data

    def has(self, name: str) -> bool:
        return name in self.data

    def text(self, name: str, default: str = "") -> str:
        value = self.data.get(name, default)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise InvalidBody(f"{name}: expected a string, got {json.dumps(value)}.")
        return value

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise InvalidBody(f"{name}: expected true or false, got {json.dumps(value)}.")
        return value

    def enum(self, name: str, allowed, default: str | None = None) -> str | None:
        if name not in self.data:
            return default
        return parse_enum(self.data[name], name, allowed)

    def instant(self, name: str, default=None):
        return parse_instant(self.data[name], name) if name in self.data else default

    def duration(self, name: str, default=None, *, allow_zero: bool = False):
        if name not in self.data:
            return default
        return parse_duration(self.data[name], name, allow_zero=allow_zero)

    def object(self, name: str, default=None) -> dict | None:
        value = self.data.get(name, default)
        if value is not None and not isinstance(value, dict):
            raise InvalidBody(f"{name}: expected a JSON object, got {json.dumps(value)}.")
        return value

    def items(self, name: str, default=None) -> list | None:
        value = self.data.get(name, default)
        if value is not None and not isinstance(value, list):
            raise InvalidBody(f"{name}: expected a JSON array, got {json.dumps(value)}.")
        return value
