"""Target system services against the real scim2-server: Test connection records what the
service answered (or its refusal), and Refresh offers its groups in a catalog, once each."""

import pytest

from governance.connectors import _CLASSES
from governance.models import Resource
from governance.services.system_refresh import system_refresh
from governance.services.systems import system_check, system_save
from tests.factories import CatalogFactory, UserFactory

pytestmark = pytest.mark.services


@pytest.fixture
def admin(db):
    return UserFactory(email="global@access.example", is_superuser=True)


@pytest.fixture
def server(request):
    """The `scim_server` fixture of the SCIM connector's tests, once they and the connector
    are there."""
    if "scim" not in _CLASSES:
        pytest.skip("no SCIM connector is registered")
    try:
        return request.getfixturevalue("scim_server")
    except pytest.FixtureLookupError:
        pytest.skip("the scim_server fixture is not there")


def _system(admin, server, token):
    return system_save(actor=admin, display_name="scim2-server", kind="scim",
                       base_url=f"{server.base_url}/", secret_value=token)


def test_check_against_the_real_service(admin, server):
    from tests.scim_server import TOKEN

    server.create_user("ada@contoso.example")
    system = _system(admin, server, TOKEN)
    ok, message = system_check(actor=admin, system_id=system.pk)
    assert ok, message
    assert "1 user" in message
    system.refresh_from_db()
    assert system.last_check_ok is True
    # A wrong token: the service's own refusal is what is recorded.
    system_save(actor=admin, system_id=system.pk, display_name="scim2-server", kind="scim",
                base_url=server.base_url, secret_value="not-the-token")
    ok, message = system_check(actor=admin, system_id=system.pk)
    assert not ok and "401" in message, message
    assert "not-the-token" not in message
    # The service down: said in words, and recorded.
    server.stop()
    system_save(actor=admin, system_id=system.pk, display_name="scim2-server", kind="scim",
                base_url=server.base_url, secret_value=TOKEN)
    ok, message = system_check(actor=admin, system_id=system.pk)
    assert not ok and message
    system.refresh_from_db()
    assert (system.last_check_ok, system.last_check_message) == (False, message)


def test_refresh_against_the_real_service(admin, server):
    from tests.scim_server import TOKEN

    sales = server.create_group("Sales")
    system = _system(admin, server, TOKEN)
    catalog = CatalogFactory(display_name="Contoso apps")
    summary = system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    assert summary.created == ["Sales"]
    resource = Resource.objects.get(catalog=catalog)
    assert (resource.origin_id, resource.system, resource.connector) == (sales, system, "scim")
    assert list(resource.roles.values_list("display_name", flat=True)) == ["Member"]
    server.create_group("Support")
    summary = system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    assert (summary.created, summary.unchanged) == (["Support"], 1)
    assert Resource.objects.filter(catalog=catalog).count() == 2
