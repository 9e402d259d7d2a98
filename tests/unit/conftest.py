import pytest

from governance.services.errors import Refused
from tests.factories import snapshot
from tests.review_helpers import review_team


@pytest.fixture
def team(world):
    """The world's assignments under review (tests.review_helpers.review_team)."""
    return review_team(world)


@pytest.fixture
def assert_refused():
    """Call `action`, expect `error` with `code`, a message containing `words`, and no change."""

    def check(action, error: type[Refused], code: str, *words: str) -> Refused:
        before = snapshot()
        with pytest.raises(error) as caught:
            action()
        assert caught.value.code == code
        message = str(caught.value)
        assert message.endswith(".") and len(message.split()) >= 3, message
        for word in words:
            assert word in message, f"{word!r} not in {message!r}"
        assert snapshot() == before
        return caught.value

    return check


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The factories hash a password per person; PBKDF2 would make every test take seconds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
