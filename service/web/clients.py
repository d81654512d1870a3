"""Who is the client: the peer address, or what a trusted proxy says it forwarded for.

Behind the TLS proxy the README asks for, every request comes from the proxy's address, so
rate limits keyed by `request.remote` would put every client in one bucket. Only when the
peer is one of `TAKEDOWN_TRUSTED_PROXIES` are its `Forwarded` (RFC 7239) or, failing that,
`X-Forwarded-For` headers believed; anyone else could write any address there. The chain is
read from the right: the first hop that is not itself a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from service.web.keys import SETTINGS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CLIENT_KEY = web.RequestKey("client_address", str)


def client_address(request: web.Request) -> str:
    """The client's address (cached on the request); 'unknown' when there is none."""
    if CLIENT_KEY in request:
        return request[CLIENT_KEY]
    trusted = request.app[SETTINGS].trusted_proxies
    peer = request.remote or "unknown"
    address = peer
    if trusted and _is_trusted(peer, trusted):
        address = _forwarded_client(_forwarded_hops(request), peer, trusted)
    request[CLIENT_KEY] = address
    return address


def _forwarded_client(hops: list[str], peer: str, trusted: Sequence[Network]) -> str:
    client = peer
    for hop in reversed(hops):
        client = hop
        if not _is_trusted(hop, trusted):
            break
    return client


def _forwarded_hops(request: web.Request) -> list[str]:
    """The addresses a proxy chain forwarded for, leftmost first (Forwarded wins over XFF)."""
    if request.headers.get("Forwarded"):
        return [_strip_port(str(hop.get("for", "unknown"))) for hop in request.forwarded]
    hops: list[str] = []
    for header in request.headers.getall("X-Forwarded-For", []):
        hops.extend(_strip_port(part.strip()) for part in header.split(",") if part.strip())
    return hops


def _strip_port(node: str) -> str:
    """`192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711` or `2001:db8::1` → the address."""
    if node.startswith("["):
        return node[1:].partition("]")[0]
    if node.count(":") == 1:
        return node.partition(":")[0]
    return node


def _is_trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # 'unknown', an obfuscated node name: not one of ours
    return any(ip in network for network in trusted)
