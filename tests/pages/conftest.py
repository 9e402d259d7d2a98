import pytest
from django.urls import reverse

FACTORY_PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's


@pytest.fixture
def reauthenticate():
    """Give the password again on allauth's page, as creating an API token asks; returns the
    client."""
    def confirm(client, password: str = FACTORY_PASSWORD):
        response = client.post(reverse("account_reauthenticate"), {"password": password})
        assert response.status_code == 302, response.content.decode()[:2000]
        return client
    return confirm


@pytest.fixture
def people(world):
    """The world's catalog delegates (tests.config_helpers.make_delegates)."""
    from tests.config_helpers import make_delegates

    return make_delegates(world)


@pytest.fixture
def owner_client(world, as_user):
    """The test client, signed in as the world's catalog owner."""
    return as_user(world.owner)
