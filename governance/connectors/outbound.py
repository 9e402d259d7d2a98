"""Which hosts the portal may call on behalf of a catalog owner (custom extensions' URLs).

A catalog owner chooses the address, so it must not reach what only the portal's own network
can: this machine, private and link-local networks, a cloud's metadata service. A host may be
called when every address it resolves to is public, or when a global administrator
allow-lists it in the tenant settings (`TenantSettings.outbound_allow_list`): by host name
(trusted whatever it resolves to), by IP address, or by network (CIDR). Plain http:// is
only for allow-listed hosts.

The check runs when the URL is saved and again when it is called, since a name may resolve
elsewhere by then; governance.connectors.outbound_http also checks the address the call
actually connected to.
"""

import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from urllib.parse import urlsplit

from governance.connectors.base import ConnectorError

Address = IPv4Address | IPv6Address
METADATA = frozenset(ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254"))
SHARED = ip_network("100.64.0.0/10")
NAT64 = ip_network("64:ff9b::/96")
HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)"
                       r"(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
WHERE_TO_ALLOW = "a global administrator allow-lists the host in the tenant settings"


class OutboundRefused(ConnectorError):
    """The host may not be called; trying again cannot help until the allow-list changes.
    `code`: httpsRequired (plain http to a host not allow-listed) or addressNotAllowed."""

    def __init__(self, message: str, *, code: str = "addressNotAllowed"):
        super().__init__(message, retryable=False)
        self.code = code


class Unresolvable(ConnectorError):
    """The host name does not resolve (now: DNS may answer later)."""


def _embedded_ipv4(address: Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), routed to it."""
    if not isinstance(address, IPv6Address):
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: Address) -> str | None:
    # Metadata first: fd00:ec2::254 is also unique-local, and the more telling name wins.
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address (this machine)"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, IPv4Address) and address in SHARED:
        return "a shared (carrier-grade NAT) address"
    if isinstance(address, IPv6Address) and address in ip_network("fc00::/7"):
        return "a unique-local address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "an address that is not public"
    return None


def why_not_public(address: Address) -> str | None:
    """What kind of non-public address this is ("a private address"), or None if public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        # The connection goes to the IPv4 address it carries: that one is what counts.
        kind = _kind(embedded)
        return f"{kind} in IPv6 form" if kind else None
    return _kind(address)


def _address(text: str) -> Address | None:
    try:
        return ip_address(text.strip("[]"))
    except ValueError:
        return None


def normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def normalise_entry(text: str) -> str:
    """An allow-list entry as stored: a host name, an IP address or a network.

    :raises ValueError: with a message saying what to write instead.
    """
    entry = text.strip()
    if "://" in entry or " " in entry or ("/" in entry and _address(
            entry.split("/", 1)[0]) is None):
        raise ValueError(f"“{entry}” is not a host, an address or a network: write only the "
                         "host (hooks.internal), an IP address (10.20.0.5) or a network "
                         "(10.20.0.0/16), one per line.")
    if "/" in entry:
        try:
            network = ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            raise ValueError(f"“{entry}” is not a network: write its first address and the "
                             "prefix length, e.g. 10.20.0.0/16 or fd12:3456::/48.") from None
        if str(network) != entry.lower().strip("[]"):
            raise ValueError(f"“{entry}” has bits set after its prefix: the network is "
                             f"{network}.")
        if network.prefixlen == 0:
            raise ValueError(f"“{entry}” would allow every address, this machine and the "
                             "cloud's metadata service included: list the networks the "
                             "extensions need.")
        return str(network)
    address = _address(entry)
    if address is not None:
        return str(address)
    host = normalise_host(entry)
    if not HOST_NAME.match(host):
        raise ValueError(f"“{entry}” is not a host name, an IP address or a network "
                         "(e.g. hooks.internal, 10.20.0.5, 10.20.0.0/16).")
    return host


@dataclass(frozen=True)
class AllowList:
    """The hosts and networks a global administrator lets extensions call."""

    hosts: frozenset[str] = frozenset()
    networks: tuple = ()

    @classmethod
    def of(cls, entries: Iterable[str]) -> "AllowList":
        hosts, networks = set(), []
        for entry in entries:
            address = _address(entry)
            if address is not None or "/" in entry:
                networks.append(ip_network(entry.strip("[]"), strict=False))
            else:
                hosts.add(normalise_host(entry))
        return cls(frozenset(hosts), tuple(networks))

    def lists_host(self, host: str) -> bool:
        return normalise_host(host) in self.hosts

    def lists_address(self, address: Address) -> bool:
        return any(address.version == network.version and address in network
                   for network in self.networks)


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to.

    :raises Unresolvable: the name is unknown (or DNS does not answer).
    """
    try:
        found = socket.getaddrinfo(normalise_host(host), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Unresolvable(f"{host} could not be found: the name does not resolve to any "
                           "address. Check the address.") from None
    # The scope of a link-local IPv6 address ("fe80::1%eth0") is not part of the address.
    return list(dict.fromkeys(ip_address(info[4][0].split("%", 1)[0]) for info in found))


def refusal(host: str, address: Address, allow: AllowList) -> str | None:
    """Why `host`, at `address`, may not be called; None when it may."""
    if allow.lists_host(host) or allow.lists_address(address):
        return None
    kind = why_not_public(address)
    if kind is None:
        return None
    named = normalise_host(host)
    # Not which address: a catalog owner should not map the internal DNS through this.
    where = f"{named} is" if _address(named) == address else f"{named} resolves to"
    return (f"{where} {kind}: only public addresses can be called, unless "
            f"{WHERE_TO_ALLOW}.")


def _port(parts) -> int:
    try:
        return parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return 443


def check_url(url: str, allow: AllowList) -> None:
    """Whether `url` (http or https, already well formed) may be called.

    :raises OutboundRefused: plain http to a host not allow-listed, or a non-public address.
    :raises Unresolvable: the host name does not resolve.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if allow.lists_host(host):
        return
    if parts.scheme == "http":
        try:
            addresses = resolve(host, _port(parts))
        except Unresolvable:
            addresses = []
        if not addresses or not all(allow.lists_address(a) for a in addresses):
            raise OutboundRefused(
                "The address must start with https://, so that the calls and the people's "
                "details in them are encrypted: plain http:// is only for hosts a global "
                "administrator allow-lists in the tenant settings.", code="httpsRequired")
        return
    for address in resolve(host, _port(parts)):
        reason = refusal(host, address, allow)
        if reason:
            raise OutboundRefused(reason)
