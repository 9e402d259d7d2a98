"""The integration tests share `celery_worker` and `wait_for` with the browser tests: both
live in tests/conftest.py. `wait_for` is imported here too, where the tests first found it."""

from tests.conftest import wait_for

__all__ = ["wait_for"]

