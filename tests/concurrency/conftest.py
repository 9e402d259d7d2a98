import pytest

from tests.factories import build_world


@pytest.fixture
def fast_passwords(settings):
    # Hundreds of people per test: the default hasher would spend seconds on their passwords.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(transactional_db, fast_passwords):
    return build_world()


@pytest.fixture(autouse=True)
def _own_task_queue(task_queue):
    """Tasks are published for real, to a queue no worker reads: the threads under test are
    the only workers."""
    return task_queue
