import time

import pytest


def wait_for(predicate, *, timeout: float = 20.0, what: str = "condition"):
    """Poll until `predicate()` is truthy; the worker runs in another thread."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"Timed out after {timeout} s waiting for {what}.")


@pytest.fixture
def celery_worker(transactional_db, settings, require_redis, task_queue):
    """A real Celery worker, in a thread, consuming this test's own queue on Redis."""
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with start_worker(app, pool="solo", perform_ping_check=False, queues=[task_queue],
                      shutdown_timeout=20):
        yield app
