"""Handing work to the workers once the transaction that created it has committed.

A task that never runs (the broker was down, the message was lost) costs only time: the minute
sweeps find the same work in the database. So a failed publish is logged, never raised.

Tasks are found by name in Celery's registry (which imports governance.tasks), not imported
here: the tasks call the services, and the services only name the tasks.
"""

import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def _publish(task_name: str, *args) -> None:
    try:
        # Not registered: a process without the portal's Celery app (a script); the same.
        current_app.tasks[f"governance.tasks.{task_name}"].delay(*args)
    except Exception as exc:  # noqa: BLE001 - any broker failure; the sweeps pick the work up
        logger.warning("Could not queue %s (%s); the next sweep will do the work.", task_name,
                       exc)


def after_commit(task_name: str, *args) -> None:
    transaction.on_commit(lambda: _publish(task_name, *args))


def deliveries_after_commit(assignment_ids: list[int]) -> None:
    if assignment_ids:
        after_commit("deliver_assignments", list(assignment_ids))


def outbox_after_commit() -> None:
    after_commit("send_outbox")
