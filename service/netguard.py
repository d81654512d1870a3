"""Which addresses outbound connections may reach (SSRF guard), for every edge that follows
URLs taken from others: the probe (hosters' URLs and their redirects) and the resolver (RDAP
redirects, self and parent links). Loopback, private, link-local, reserved and multicast
targets are refused unless private targets are allowed. The check is made on the addresses a
connection is actually opened to (`GuardedConnector`), so redirects and DNS rebinding are
checked again on every new connection.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import TCPConnector
from aiohttp.abc import ResolveResult


class TargetRefused(OSError):
    """The target address is loopback/private/link-local/reserved/multicast."""


# IPv6 forms that carry an IPv4 address in their last 32 bits and reach it: a NAT64
# translator (RFC 6052 well-known prefix) and the deprecated IPv4-compatible form.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Local-use NAT64 (RFC 8215): a translator of the local network, whatever it embeds.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
# Refused whatever the running Python's `is_global` says: its tables change between releases
# (3.11.7 calls the deprecated site-local fec0::/10 and the IPv4-translated ::ffff:0:0:0/96
# global). From the IANA special-purpose registries, every block not globally reachable.
_NEVER_PUBLIC = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3",
        "::/127", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b:1::/48", "100::/64",
        "2001:db8::/32", "2001:10::/28", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10",
        "fec0::/10", "ff00::/8",
    )
)  # fmt: skip


def is_public(address: str) -> bool:
    """True for globally routable unicast addresses. An IPv6 address that embeds an IPv4
    one (IPv4-mapped, NAT64, 6to4, IPv4-compatible) is judged by that IPv4 address:
    Python calls 64:ff9b::7f00:1 or 2002:7f00:1:: global, yet they lead to 127.0.0.1."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _routable(embedded)
    return _routable(ip)


def _routable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if any(ip in block for block in _NEVER_PUBLIC):
        return False
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


class AddressGuard:
    """Decides whether an address may be connected to."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def allows(self, address: str) -> bool:
        return self.allow_private or is_public(address)

    def check(self, addresses: Iterable[str], host: str) -> None:
        refused = [a for a in addresses if not self.allows(a)]
        if refused:
            raise TargetRefused(f"{host} resolves to a non-public address")


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class GuardedConnector(TCPConnector):
    """A TCPConnector that connects only to addresses the guard allows.

    `exempt` holds the (host, port) pairs never checked: the operator-configured proxy or RDAP
    redirector. Host *and* port: a redirect to another port of the redirector's host (another
    service on that machine) is checked like any target.
    """

    def __init__(self, guard: AddressGuard, exempt: set[tuple[str, int]], **kwargs: Any) -> None:
        super().__init__(use_dns_cache=False, **kwargs)
        self._guard = guard
        self._exempt = exempt

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Any] | None = None
    ) -> list[ResolveResult]:
        results = await super()._resolve_host(host, port, traces=traces)
        if (host, port) in self._exempt:
            return results
        allowed = [r for r in results if self._guard.allows(r["host"])]
        if not allowed:
            raise TargetRefused(f"{host} has no public address")
        return allowed


def endpoint(url: str | None) -> set[tuple[str, int]]:
    """The (host, port) of a configured URL, for `GuardedConnector`'s exemption."""
    if not url:
        return set()
    parts = urlsplit(url)
    if not parts.hostname:
        return set()
    return {(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))}
