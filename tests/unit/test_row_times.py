"""Rows' created_at and modified_at come from governance.clock, so time travel moves them."""

from datetime import UTC, datetime

import pytest

from governance import clock
from governance.models import Catalog
from governance.services.catalogs import catalog_create, catalog_update
from tests.factories import UserFactory

THEN = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)
LATER = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_created_and_modified_follow_the_clock(fast_passwords, monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: THEN)
    admin = UserFactory(is_superuser=True)
    catalog = catalog_create(actor=admin, display_name="Travel")
    catalog = Catalog.objects.get(pk=catalog.pk)
    assert catalog.created_at == THEN and catalog.modified_at == THEN
    monkeypatch.setattr(clock, "now", lambda: LATER)
    catalog_update(actor=admin, catalog_id=catalog.pk, display_name="Travel light",
                   description="", state=catalog.state, is_externally_visible=False)
    catalog.refresh_from_db()
    assert catalog.created_at == THEN and catalog.modified_at == LATER
