import time
import uuid

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
def celery_worker(transactional_db, settings, require_redis):
    """A real Celery worker, in a thread, consuming this test's own queue on Redis."""
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    queue = f"test-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, queues=[queue],
                          shutdown_timeout=20):
            yield app
    finally:
        app.conf.task_default_queue = previous
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)
