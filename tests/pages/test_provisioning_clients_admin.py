"""SCIM provisioning clients in the admin: global administrators register one and see its
token and the SCIM base URL once; revoking stops the token; nobody else sees them."""

import re
from html import unescape

import pytest
from django.urls import reverse

from governance.choices import CatalogRole
from governance.models import AuditEvent, ProvisioningClient
from governance.services.provisioning_clients import provisioning_client_authenticate
from tests.factories import CatalogFactory, UserFactory, role_holder

CLIENTS = "admin:governance_provisioningclient"
TOKEN = r"scim_[0-9a-f]{8}\.[\w-]+"


@pytest.fixture
def admin(db):
    return UserFactory(email="global.admin@access.example", is_superuser=True)


def _add(client, name="Okta"):
    return client.post(reverse(f"{CLIENTS}_add"), {"display_name": name, "_save": "Save"},
                       follow=True)


def test_the_token_and_base_url_are_shown_once_and_the_token_opens_scim(as_user, admin):
    client = as_user(admin)
    page = unescape(_add(client).content.decode())
    token = re.search(TOKEN, page).group(0)
    assert "/scim/v2/" in page
    registered = provisioning_client_authenticate(token)
    assert registered.display_name == "Okta"
    assert AuditEvent.objects.get(action="provisioningClient.created").actor == admin
    listing = client.get(reverse(f"{CLIENTS}_changelist")).content.decode()
    assert registered.token_prefix in listing and token.split(".")[1] not in listing


def test_a_taken_name_is_refused_beside_the_field(as_user, admin):
    client = as_user(admin)
    _add(client)
    page = _add(client, name="okta").content.decode()
    assert "already" in page and ProvisioningClient.objects.count() == 1


def test_revoking_stops_the_token(as_user, admin):
    client = as_user(admin)
    token = re.search(TOKEN, unescape(_add(client).content.decode())).group(0)
    registered = ProvisioningClient.objects.get()
    client.post(reverse(f"{CLIENTS}_changelist"),
                {"action": "revoke", "_selected_action": [registered.pk], "index": 0})
    registered.refresh_from_db()
    assert registered.revoked_at is not None and provisioning_client_authenticate(token) is None


def test_a_catalog_owner_does_not_see_provisioning_clients(as_user, db):
    owner = role_holder(CatalogFactory(), CatalogRole.OWNER)
    assert as_user(owner).get(reverse(f"{CLIENTS}_changelist")).status_code in (302, 403)
