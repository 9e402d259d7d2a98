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
def no_task_publishing(monkeypatch):
    """Keep on-commit task publishing off Redis: the calls under test are the only workers.

    A queued task would otherwise sit in the broker for a later test's real worker to run
    against rows this test's database flush has removed.
    """
    published = []
    monkeypatch.setattr("governance.services.dispatch._publish",
                        lambda task_name, *args: published.append((task_name, args)))
    return published
