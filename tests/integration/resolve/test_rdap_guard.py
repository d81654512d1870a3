"""The resolver follows registries' redirects and links only to public addresses: a redirect
from the configured RDAP redirector to another (loopback) address is not fetched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from service.resolve.resolver import open_resolver
from tests.conftest import make_settings

DOCUMENT = {"objectClassName": "ip network", "handle": "NET-203-0-113-0-1", "entities": []}


async def _serve(app: web.Application, host: str) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    try:
        yield f"http://{host}:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def inside() -> AsyncIterator[tuple[str, list[str]]]:
    """A 'registry' on another loopback address (an internal service), recording requests."""
    asked: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.json_response(DOCUMENT, content_type="application/rdap+json")

    app = web.Application()
    app.router.add_get("/ip/{ip}", answer)
    async for base in _serve(app, "127.0.0.2"):
        yield base, asked


@pytest.fixture
async def redirector(inside: tuple[str, list[str]]) -> AsyncIterator[str]:
    """The operator's RDAP redirector (trusted), sending every query to the inside address."""

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{inside[0]}/ip/{request.match_info['ip']}")

    app = web.Application()
    app.router.add_get("/ip/{ip}", redirect)
    async for base in _serve(app, "127.0.0.1"):
        yield base


@pytest.mark.parametrize("allow_private", [False, True])
async def test_a_redirect_to_a_non_public_address_is_not_followed(
    pool: asyncpg.Pool,
    db_url: str,
    redirector: str,
    inside: tuple[str, list[str]],
    allow_private: bool,
) -> None:
    settings = make_settings(
        db_url, rdap_bootstrap_url=redirector, allow_private_targets=allow_private
    )
    async with open_resolver(pool, settings) as resolver:
        found: dict[str, Any] | None = await resolver.rdap.ip("203.0.113.5")
    _, asked = inside
    if allow_private:  # the same redirect is followed when private targets are allowed
        assert found is not None and found["handle"] == DOCUMENT["handle"] and asked
    else:
        assert found is None and asked == []
