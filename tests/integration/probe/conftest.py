"""Fixtures: the loopback hoster, proxy and DNS server of tests/integration/probe/peers.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from tests.integration.probe.peers import Origin, Zone, proxy_app, serve, start_dns


@dataclass
class Web:
    origin: Origin
    port: int

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


@pytest.fixture
async def web_origin() -> AsyncIterator[Web]:
    origin = Origin()
    async for port in serve(origin.app()):
        yield Web(origin, port)


@pytest.fixture
async def proxy_port(web_origin: Web) -> AsyncIterator[int]:
    async for port in serve(proxy_app(web_origin.port)):
        yield port


@pytest.fixture
def dns_zone() -> Iterator[tuple[Zone, int]]:
    """A DNS server on 127.0.0.1 (UDP) whose answers the test sets; unknown names: NXDOMAIN."""
    zone = Zone()
    server, port = start_dns(zone)
    yield zone, port
    server.stop()
    server.server.server_close()
