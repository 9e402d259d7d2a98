"""The one source of "now", so that tests can travel in time, and of time zones by name."""

import functools
import zoneinfo
from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format


def now() -> datetime:
    return timezone.now()


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone_named(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The time zone of this name (a cookie's, a person's), or None for anything else.

    ZoneInfo() opens whatever file the name leads to: a folder ("America") raises
    IsADirectoryError and other files other errors, so only names of real zones are tried.
    """
    return zoneinfo.ZoneInfo(name) if name in _known_zones() else None


def when_text(moment: datetime | None) -> str:
    """A moment as people read it, in the active time zone ("7 Dec 2026, 09:30"); "" for None."""
    if moment is None:
        return ""
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT")
