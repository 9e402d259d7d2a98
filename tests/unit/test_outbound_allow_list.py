"""The tenant's outbound allow-list (set by global administrators only, audited) and what it
changes for a catalog owner saving a custom extension: addresses that are not public are
refused, unless the allow-list names them."""

from datetime import timedelta

import pytest

from governance.choices import CustomExtensionBehavior
from governance.models import AuditEvent, CustomExtension, TenantSettings
from governance.services.errors import InvalidInput, NotAllowed
from governance.services.extension_config import extension_save
from governance.services.outbound import outbound_allow_list_set
from tests.extension_helpers import allow_outbound, tenant_admin

SECRET = "a-secret-of-sixteen-or-more"


def save(world, url: str) -> CustomExtension:
    return extension_save(actor=world.owner, catalog_id=world.catalog.pk,
                          display_name="Compliance check", endpoint_url=url,
                          behavior=CustomExtensionBehavior.LAUNCH_AND_WAIT,
                          callback_timeout=timedelta(hours=1), secret_value=SECRET)


def test_a_global_administrator_sets_the_allow_list_and_it_is_audited(db):
    admin = tenant_admin()
    outbound_allow_list_set(actor=admin, entries="hooks.internal\n\n10.20.0.0/16\n[::1]\n"
                                                 "# the receiver beside the portal\n"
                                                 "127.0.0.1\nHOOKS.internal")
    assert TenantSettings.current().outbound_allow_list == [
        "hooks.internal", "10.20.0.0/16", "::1", "127.0.0.1"]
    event = AuditEvent.objects.get(action="tenantSettings.outboundAllowListChanged")
    assert event.actor == admin and event.before == {"outboundAllowList": []}
    assert event.after == {"outboundAllowList": ["hooks.internal", "10.20.0.0/16", "::1",
                                                 "127.0.0.1"]}
    # The same list again changes nothing and logs nothing.
    outbound_allow_list_set(actor=admin, entries=["hooks.internal", "10.20.0.0/16", "::1",
                                                  "127.0.0.1"])
    assert AuditEvent.objects.filter(
        action="tenantSettings.outboundAllowListChanged").count() == 1


def test_only_a_global_administrator_sets_it(world):
    for person in (world.owner, world.member, None):
        with pytest.raises(NotAllowed, match="global administrators"):
            outbound_allow_list_set(actor=person, entries=["127.0.0.1"])
    assert TenantSettings.current().outbound_allow_list == []


@pytest.mark.parametrize(("entries", "words"), [
    ("hooks.internal\nhttps://hooks.internal/access", "write only the host"),
    ("10.20.0.1/16", "10.20.0.0/16"),
    ("0.0.0.0/0", "every address"),
    ([f"10.0.{n}.1" for n in range(101)], "at most 100"),
])
def test_an_entry_that_is_no_host_address_or_network_is_refused(db, entries, words):
    with pytest.raises(InvalidInput) as caught:
        outbound_allow_list_set(actor=tenant_admin(), entries=entries)
    assert caught.value.field == "outbound_allow_list" and words in caught.value.message
    assert TenantSettings.current().outbound_allow_list == []


NOT_PUBLIC = [
    ("https://127.0.0.1:8443/hook", "127.0.0.1 is a loopback address"),
    ("https://10.0.0.1/hook", "10.0.0.1 is a private address"),
    ("https://169.254.169.254/latest/meta-data", "169.254.169.254 is a cloud metadata address"),
    ("https://[::1]:8443/hook", "::1 is a loopback address"),
    ("https://localhost:8443/hook", "localhost resolves to a loopback address"),
]
PLAIN_HTTP = ["http://127.0.0.1:8080/hook", "http://10.0.0.1/hook",
              "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/hook",
              "http://localhost:8080/hook"]


@pytest.mark.parametrize(("url", "words"), NOT_PUBLIC)
def test_a_catalog_owner_cannot_aim_an_extension_at_an_address_that_is_not_public(
        world, url, words):
    with pytest.raises(InvalidInput) as caught:
        save(world, url)
    refusal = caught.value
    assert (refusal.field, refusal.code) == ("endpoint_url", "addressNotAllowed")
    assert words in refusal.message and "only public addresses can be called" in refusal.message
    assert "global administrator allow-lists the host in the tenant settings" in refusal.message
    assert not CustomExtension.objects.exists()


@pytest.mark.parametrize("url", PLAIN_HTTP)
def test_plain_http_is_refused_to_a_host_that_is_not_allow_listed(world, url):
    with pytest.raises(InvalidInput) as caught:
        save(world, url)
    assert (caught.value.field, caught.value.code) == ("endpoint_url", "httpsRequired")
    assert "https://" in caught.value.message
    assert not CustomExtension.objects.exists()


@pytest.mark.parametrize(("url", "entry"), [
    *((url, entry) for (url, _), entry in zip(
        NOT_PUBLIC, ["127.0.0.1", "10.0.0.0/8", "169.254.169.254", "::1", "localhost"],
        strict=True)),
    *zip(PLAIN_HTTP, ["127.0.0.1", "10.0.0.1", "169.254.0.0/16", "::1", "127.0.0.1"],
         strict=True),
])
def test_an_allow_listed_host_address_or_network_may_be_saved(world, url, entry):
    allow_outbound(entry)
    assert save(world, url).endpoint_url == url


def test_an_unknown_host_is_refused_at_save_time(world):
    with pytest.raises(InvalidInput) as caught:
        save(world, "https://hooks.nowhere.invalid/access")
    assert (caught.value.field, caught.value.code) == ("endpoint_url", "hostUnknown")
    assert caught.value.message == ("hooks.nowhere.invalid could not be found: the name does "
                                    "not resolve to any address. Check the address.")
