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

import socket
from collections.abc import Sequence

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
from aiohttp.abc import AbstractResolver, ResolveResult

from service.netguard import (
    AddressGuard,
    GuardedConnector,
    TargetRefused,
    endpoint,
    is_ip_literal,
    is_public,
)

# The address rules are shared with the resolver; re-exported for the probe's callers.
from service.settings import nameserver_address

__all__ = [
    "AddressGuard",
    "DnsResolver",
    "GuardedConnector",
    "NameNotFound",
    "NoAddress",
    "TargetRefused",
    "endpoint",
    "is_ip_literal",
    "is_public",
]


class NameNotFound(OSError):
    """NXDOMAIN: the host name does not exist (a removal signal)."""


class NoAddress(OSError):
    """The name exists but has no A/AAAA record, or DNS failed."""


class DnsResolver(AbstractResolver):
    """aiohttp resolver on dnspython, using the configured nameservers (host[:port])."""

    def __init__(self, nameservers: Sequence[str], timeout: float) -> None:
        self._resolver = dns.asyncresolver.Resolver(configure=not nameservers)
        if nameservers:
            # Each with its own port; `[::1]:5353` is an IPv6 nameserver, not host "[" port "".
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(*nameserver_address(spec)) for spec in nameservers
            ]
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
