"""Running service calls at the same moment, each on its own database connection.

Django gives every thread its own connection, so two threads are two workers (or two web
requests) as far as PostgreSQL is concerned. Each thread connects first, then waits at a
barrier, so the calls start together rather than one connection set-up apart.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

# A test that waits this long on a lock has found a hang, not a slow machine.
LOCK_TIMEOUT = "10s"
JOIN_TIMEOUT = 60


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_together(*calls: Callable[[], Any]) -> list[Outcome]:
    """Start every call at once, one thread (and connection) each; their outcomes in order."""
    barrier = threading.Barrier(len(calls), timeout=JOIN_TIMEOUT)
    outcomes = [Outcome() for _ in calls]

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            barrier.wait()
            outcomes[index].value = call()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test to assert on
            outcomes[index].error = exc
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call), daemon=True)
               for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a concurrent call never finished"
    return outcomes


def raise_unexpected(outcomes: list[Outcome]) -> None:
    """Re-raise the first error of calls that were all meant to succeed."""
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error
