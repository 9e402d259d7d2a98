"""When to try again: one backoff curve for deliveries, accounts and emails, or longer when
the target system said so."""

from datetime import datetime, timedelta

FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=1)


def backoff(attempts: int, *, first: timedelta = FIRST_RETRY) -> timedelta:
    """`first` after the first attempt, then doubling (30 s, 1 min, 2 min …), at most an
    hour."""
    return min(first * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


def retry_at(now: datetime, attempts: int, retry_after: float | None) -> datetime:
    """Backoff after `attempts`, or the system's Retry-After when that is longer."""
    wait = backoff(attempts)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return now + wait
