"""Fixtures of the package builder's service tests: the delegates, and a refusal check that
also proves nothing was written."""

import pytest

from governance.services.errors import (
    Refused,
)
from tests.config_helpers import config_snapshot, make_delegates


@pytest.fixture
def people(world):
    return make_delegates(world)


@pytest.fixture
def refused():
    """Call `action`; expect `error` with `code` (and `field`), a readable message, and no
    row of the engine or the configuration changed."""

    def check(action, error: type[Refused], code: str, field: str | None = None,
              *words: str) -> Refused:
        before = config_snapshot()
        with pytest.raises(error) as caught:
            action()
        refusal = caught.value
        assert refusal.code == code, refusal.message
        if field is not None:
            assert refusal.field == field, refusal.message
        assert refusal.message.endswith(".") and len(refusal.message.split()) >= 4, \
            refusal.message
        for word in words:
            assert word in refusal.message, f"{word!r} not in {refusal.message!r}"
        assert config_snapshot() == before
        return refusal

    return check

