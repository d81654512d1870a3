"""SSRF guard: a probe connects only to public addresses (unless private targets are allowed).

The check is made on the addresses the connection is actually opened to: `GuardedConnector`
filters what its resolver returns (and IP literals, which aiohttp never sends to a resolver)
right before connecting, with the DNS cache off, so every hop of a redirect chain and every
new lookup (DNS rebinding between checks) is checked again; the peer address of the open
socket is verified once more before any body byte is read.

With a proxy (`TAKEDOWN_PROBE_PROXY`) the connector only sees the proxy, so the fetcher
resolves the target itself and refuses it when any answer is non-public (fetch.py
`_check_target`), on every hop. Then:
- https: the proxy is asked to CONNECT to the address we checked (an IP literal), with SNI,
  certificate check and Host on the name inside the tunnel. The proxy does no lookup of its
  own, so a name answering differently for it (DNS rebinding) changes nothing. Closed.
- plain http: the request goes to the proxy in absolute form naming the host, and the proxy
  resolves the name again; a name that changes its answer between our lookup and the
  proxy's is not excluded from here. Sending the IP literal instead does not work: a proxy
  must replace Host with the request target's authority (RFC 9112 section 3.2.2), so the
  origin would see Host: <IP>, and a name-based virtual host would answer for another
  site (a false "gone"). The deployment must therefore guarantee that the proxy itself
  refuses private, loopback, link-local and internal targets (its own egress ACL, applied to
  the address it connects to); it normally runs in another network, where "private" is not
  ours.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.resolver
from aiohttp import TCPConnector
from aiohttp.abc import AbstractResolver, ResolveResult


class TargetRefused(OSError):
    """The target address is loopback/private/link-local/reserved/multicast."""


class NameNotFound(OSError):
    """NXDOMAIN: the host name does not exist (a removal signal)."""


class NoAddress(OSError):
    """The name exists but has no A/AAAA record, or DNS failed."""


# IPv6 forms that carry an IPv4 address in their last 32 bits and reach it: a NAT64
# translator (RFC 6052 well-known prefix) and the deprecated IPv4-compatible form.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Local-use NAT64 (RFC 8215): a translator of the local network, whatever it embeds.
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


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


class DnsResolver(AbstractResolver):
    """aiohttp resolver on dnspython, using the configured nameservers (host[:port])."""

    def __init__(self, nameservers: Sequence[str], timeout: float) -> None:
        self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            _host, _, port = nameservers[0].partition(":")
            self._resolver.nameservers = [n.partition(":")[0] for n in nameservers]
            self._resolver.port = int(port or 53)
        self._resolver.lifetime = timeout

    async def addresses(self, host: str) -> list[str]:
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._resolver.resolve(host, rdtype)
            except dns.resolver.NXDOMAIN as exc:
                raise NameNotFound(f"{host}: NXDOMAIN") from exc
            except dns.resolver.NoAnswer:
                continue
            except dns.exception.DNSException as exc:
                raise NoAddress(f"{host}: DNS failed ({type(exc).__name__})") from exc
            found.extend(r.to_text() for r in answer)
        if not found:
            raise NoAddress(f"{host}: no address")
        return found

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [_result(host, address, port) for address in await self.addresses(host)]

    async def close(self) -> None:
        return None


def _result(host: str, address: str, port: int) -> ResolveResult:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return {
        "hostname": host,
        "host": address,
        "port": port,
        "family": family,
        "proto": 0,
        "flags": socket.AI_NUMERICHOST,
    }


class GuardedConnector(TCPConnector):
    """A TCPConnector that connects only to addresses the guard allows.

    `exempt` holds host names never checked: the operator-configured proxy.
    """

    def __init__(self, guard: AddressGuard, exempt: set[str], **kwargs: Any) -> None:
        super().__init__(use_dns_cache=False, **kwargs)
        self._guard = guard
        self._exempt = exempt

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Any] | None = None
    ) -> list[ResolveResult]:
        results = await super()._resolve_host(host, port, traces=traces)
        if host in self._exempt:
            return results
        allowed = [r for r in results if self._guard.allows(r["host"])]
        if not allowed:
            raise TargetRefused(f"{host} has no public address")
        return allowed
