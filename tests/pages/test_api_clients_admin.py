"""API clients in the admin: global administrators register them and see the token once;
nobody else sees them; revoking stops the token."""

import re
from html import unescape

import pytest
from django.urls import reverse

from governance.choices import ApiPermission, CatalogRole
from governance.models import ApiClient, AuditEvent
from governance.services.api_tokens import token_authenticate
from tests.factories import CatalogFactory, UserFactory, role_holder

CLIENTS = "admin:governance_apiclient"
WRITE = ApiPermission.READ_WRITE_ALL.value


@pytest.fixture
def admin(db):
    return UserFactory(email="global.admin@access.example", is_superuser=True)


def _add(client, name="Terraform", permissions=(WRITE,)):
    return client.post(reverse(f"{CLIENTS}_add"),
                       {"display_name": name, "permissions": list(permissions), "_save": "Save"},
                       follow=True)


def test_the_token_is_shown_once_and_authenticates(as_user, admin):
    client = as_user(admin)
    page = unescape(_add(client).content.decode())
    token = re.search(r"pac_[0-9a-f]{8}\.[\w-]+", page).group(0)
    principal, scopes = token_authenticate(token)
    registered = principal.api_client
    assert registered.display_name == "Terraform" and scopes == {WRITE}
    assert AuditEvent.objects.get(action="apiClient.created").actor == admin
    for url in (reverse(f"{CLIENTS}_changelist"),
                reverse(f"{CLIENTS}_change", args=[registered.pk])):
        again = client.get(url).content.decode()
        assert registered.secret_prefix in again and token.split(".")[1] not in again


def test_a_refused_registration_says_why_and_saves_nothing(as_user, admin):
    client = as_user(admin)
    page = _add(client, permissions=()).content.decode()
    assert "This field is required" in page and not ApiClient.objects.exists()


def test_revoking_stops_the_token(as_user, admin):
    client = as_user(admin)
    token = re.search(r"pac_[0-9a-f]{8}\.[\w-]+",
                      unescape(_add(client).content.decode())).group(0)
    registered = ApiClient.objects.get()
    client.post(reverse(f"{CLIENTS}_changelist"),
                {"action": "revoke", "_selected_action": [registered.pk], "index": 0})
    registered.refresh_from_db()
    assert not registered.is_active and token_authenticate(token) is None


def test_catalog_owners_see_no_api_clients(as_user, admin):
    owner = role_holder(CatalogFactory(), CatalogRole.OWNER, email="owner@access.example")
    client = as_user(owner)
    assert client.get(reverse(f"{CLIENTS}_changelist")).status_code == 403
    assert client.get(reverse(f"{CLIENTS}_add")).status_code == 403
    _add(client)
    assert not ApiClient.objects.exists()
