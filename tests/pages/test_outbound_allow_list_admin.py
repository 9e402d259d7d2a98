"""The outbound allow-list on the tenant settings page: a global administrator sets it, one
entry per line, through the service; a wrong entry shows beside the field and saves nothing."""

import pytest
from django.urls import reverse

from governance.models import AuditEvent, TenantSettings
from tests.factories import UserFactory

SETTINGS = "admin:governance_tenantsettings"


@pytest.fixture
def global_admin(world):
    return UserFactory(email="global@access.example", is_superuser=True)


def form(**overrides) -> dict:
    return {"external_user_lifecycle_action": "blockSignInAndDelete",
            "days_until_external_user_deleted_after_blocked": "30",
            "outbound_allow_list": ""} | overrides


def test_a_global_administrator_sets_the_allow_list_on_the_settings_page(global_admin,
                                                                         as_user):
    client = as_user(global_admin)
    url = reverse(f"{SETTINGS}_change", args=[TenantSettings.current().pk])
    response = client.post(url, form(outbound_allow_list="hooks.internal\r\n10.20.0.0/16\r\n"))
    assert response.status_code == 302 and response.url == url
    assert TenantSettings.current().outbound_allow_list == ["hooks.internal", "10.20.0.0/16"]
    event = AuditEvent.objects.get(action="tenantSettings.outboundAllowListChanged")
    assert event.actor == global_admin
    page = client.get(url).content.decode()
    assert "hooks.internal\n10.20.0.0/16</textarea>" in page


def test_a_wrong_entry_shows_beside_the_field_and_nothing_is_saved(global_admin, as_user):
    client = as_user(global_admin)
    url = reverse(f"{SETTINGS}_change", args=[TenantSettings.current().pk])
    response = client.post(url, form(external_user_lifecycle_action="blockSignIn",
                                     outbound_allow_list="hooks.internal\r\n10.20.0.1/16"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["outbound_allow_list"] == [
        "“10.20.0.1/16” has bits set after its prefix: the network is 10.20.0.0/16."]
    settings = TenantSettings.current()
    assert (settings.outbound_allow_list, settings.external_user_lifecycle_action) == (
        [], "blockSignInAndDelete")


def test_a_catalog_owner_cannot_change_it(world, as_user):
    client = as_user(world.owner)
    url = reverse(f"{SETTINGS}_change", args=[TenantSettings.current().pk])
    assert client.post(url, form(outbound_allow_list="127.0.0.1")).status_code == 403
    assert TenantSettings.current().outbound_allow_list == []
