"""Item 9: the SSRF guard refuses what Python may misjudge, and the operator's RDAP
redirector is trusted at its own host *and* port only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from service.netguard import is_public
from service.resolve.resolver import open_resolver
from tests.conftest import make_settings
from tests.integration.resolve.test_rdap_guard import DOCUMENT, _serve


@pytest.mark.parametrize(
    "address",
    [
        "fec0::1",  # deprecated site-local: 'global' for Python 3.11.7
        "::ffff:0:7f00:1",  # IPv4-translated 127.0.0.1 (RFC 2765)
        "::ffff:0:a00:1",  # IPv4-translated 10.0.0.1
        "::ffff:0:808:808",  # IPv4-translated, even of a public address: no route to it
        "3fff::1",  # documentation (RFC 9637)
        "5f00::1",  # SRv6 SIDs
        "100::1",  # discard-only
        "192.88.99.1",  # 6to4 relay anycast (deprecated)
        "::",
    ],
)
def test_ranges_python_may_misjudge_are_refused(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_stay_public(address: str) -> None:
    assert is_public(address)


@pytest.fixture
async def other_port() -> AsyncIterator[tuple[str, list[str]]]:
    """Another service on the redirector's own host (127.0.0.1), on another port."""
    asked: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.json_response(DOCUMENT, content_type="application/rdap+json")

    app = web.Application()
    app.router.add_get("/ip/{ip}", answer)
    async for base in _serve(app, "127.0.0.1"):
        yield base, asked


async def test_the_redirector_exemption_needs_the_same_port(
    pool: asyncpg.Pool, db_url: str, other_port: tuple[str, list[str]]
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{other_port[0]}/ip/{request.match_info['ip']}")

    app = web.Application()
    app.router.add_get("/ip/{ip}", redirect)
    async for redirector in _serve(app, "127.0.0.1"):
        settings = make_settings(db_url, rdap_bootstrap_url=redirector, allow_private_targets=False)
        async with open_resolver(pool, settings) as resolver:
            found: dict[str, Any] | None = await resolver.rdap.ip("203.0.113.5")
    assert found is None and other_port[1] == []  # same host, other port: refused
