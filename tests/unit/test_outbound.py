"""Which addresses a catalog owner's extension may call (governance.connectors.outbound): only
public ones, unless the tenant's allow-list names the host, the address or its network."""

from ipaddress import ip_address

import pytest

from governance.connectors.outbound import (
    AllowList,
    OutboundRefused,
    Unresolvable,
    check_url,
    normalise_entry,
    why_not_public,
)


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"),
    ("127.3.4.5", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("169.254.10.10", "link-local"),
    ("fe80::1", "link-local"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("100.64.0.1", "shared"),
    ("224.0.0.251", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("240.0.0.1", "address"),
    ("::ffff:127.0.0.1", "loopback address (this machine) in IPv6 form"),
    ("::ffff:169.254.169.254", "metadata address in IPv6 form"),
    ("2002:a00:1::1", "private address in IPv6 form"),       # 6to4 of 10.0.0.1
    ("64:ff9b::a00:1", "private address in IPv6 form"),      # NAT64 of 10.0.0.1
])
def test_addresses_that_are_not_public_are_named(address, kind):
    reason = why_not_public(ip_address(address))
    assert reason is not None and kind in reason, reason


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert why_not_public(ip_address(address)) is None


@pytest.mark.parametrize(("url", "words"), [
    ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
    ("https://10.0.0.1/hook", "10.0.0.1 is a private address"),
    ("https://169.254.169.254/latest/meta-data", "cloud metadata address"),
    ("https://[::1]:8443/hook", "::1 is a loopback address"),
    ("https://[fd00:ec2::254]/hook", "cloud metadata address"),
    ("https://localhost:8443/hook", "localhost resolves to a loopback address"),
    ("http://127.0.0.1:8080/hook", "https://"),
    ("http://localhost:8080/hook", "https://"),
])
def test_urls_at_addresses_that_are_not_public_are_refused(url, words):
    with pytest.raises(OutboundRefused) as caught:
        check_url(url, AllowList())
    assert words in str(caught.value), str(caught.value)
    assert caught.value.retryable is False
    if url.startswith("https"):
        assert "global administrator allow-lists the host in the tenant settings" in str(
            caught.value)


@pytest.mark.parametrize(("url", "entries"), [
    ("https://127.0.0.1/hook", ["127.0.0.1"]),
    ("http://127.0.0.1:8080/hook", ["127.0.0.0/8"]),
    ("http://localhost:8080/hook", ["localhost"]),
    ("http://localhost:8080/hook", ["127.0.0.1"]),      # what the name resolves to
    ("https://10.0.0.1/hook", ["10.0.0.0/8"]),
    ("https://[::1]/hook", ["::1"]),
    ("https://hooks.contoso.example/hook", ["Hooks.Contoso.Example."]),  # trusted by name
])
def test_what_the_allow_list_names_may_be_called(url, entries):
    check_url(url, AllowList.of(normalise_entry(entry) for entry in entries))


def test_an_allow_listed_network_covers_only_its_own_addresses():
    allow = AllowList.of(["10.20.0.0/16", "::1"])
    check_url("https://10.20.3.4/hook", allow)
    with pytest.raises(OutboundRefused, match="10.21.0.1 is a private address"):
        check_url("https://10.21.0.1/hook", allow)
    with pytest.raises(OutboundRefused, match="127.0.0.1 is a loopback"):
        check_url("https://127.0.0.1/hook", allow)


def test_an_unknown_name_is_refused_with_a_clear_message():
    with pytest.raises(Unresolvable) as caught:
        check_url("https://hooks.nowhere.invalid/hook", AllowList())
    assert str(caught.value).startswith("hooks.nowhere.invalid could not be found")


@pytest.mark.parametrize(("entry", "stored"), [
    (" Hooks.Internal. ", "hooks.internal"),
    ("10.20.0.5", "10.20.0.5"),
    ("10.20.0.0/16", "10.20.0.0/16"),
    ("[::1]", "::1"),
    ("FD12:3456::/48", "fd12:3456::/48"),
    ("localhost", "localhost"),
])
def test_allow_list_entries_are_stored_in_one_form(entry, stored):
    assert normalise_entry(entry) == stored


@pytest.mark.parametrize(("entry", "words"), [
    ("https://hooks.internal/access", "write only the host"),
    ("hooks.internal/access", "write only the host"),
    ("10.20.0.1/16", "the network is 10.20.0.0/16"),
    ("10.20.0.0/40", "not a network"),
    ("0.0.0.0/0", "every address"),
    ("::/0", "every address"),
    ("hooks_internal", "not a host name"),
    ("hooks.internal:8443", "not a host name"),
    ("two words", "write only the host"),
])
def test_allow_list_entries_that_are_none_of_those_are_refused(entry, words):
    with pytest.raises(ValueError) as caught:
        normalise_entry(entry)
    assert words in str(caught.value), str(caught.value)
