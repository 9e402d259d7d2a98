"""Every task retries, with backoff, when it meets a lost database connection (a restart or
failover), instead of failing and leaving its work to the next minute's sweep."""

from celery import Task
from django.db import InterfaceError, OperationalError

from governance import tasks


def test_every_task_retries_on_a_lost_database_connection():
    found = [value for value in vars(tasks).values() if isinstance(value, Task)]
    assert len(found) >= 15
    for task in found:
        assert {OperationalError, InterfaceError} <= set(task.autoretry_for), task.name
        assert task.max_retries == 5 and task.retry_backoff, task.name
