"""The integration tests share `celery_worker` and `wait_for` with the browser tests: both
live in tests/conftest.py. `wait_for` is imported here too, where the tests first found it."""

import pytest

from tests.conftest import wait_for

__all__ = ["wait_for"]


@pytest.fixture
def scim_server(tmp_path):
    """The real scim2-server on a free loopback port (tests.scim_server.ScimServer), with
    the bearer token tests.scim_server.TOKEN; its log is in the test's tmp_path."""
    from tests.scim_server import TOKEN, ScimServer

    server = ScimServer(token=TOKEN, log_path=tmp_path / "scim2-server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
