"""When to try a target system again: backoff, or longer when the system said so."""

from datetime import datetime, timedelta


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … at most an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def retry_at(now: datetime, attempts: int, retry_after: float | None) -> datetime:
    """Backoff after `attempts`, or the system's Retry-After when that is longer."""
    wait = backoff(attempts)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return now + wait
