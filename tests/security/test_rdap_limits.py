"""Item 6: an RDAP answer is streamed and inflated with a cap, as the probe reads bodies.

A registry (or anything a redirect leads to) answering a small gzip body that inflates to
hundreds of megabytes costs the resolver no more than the cap."""

from __future__ import annotations

import gzip
import json
import resource
import zlib
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp import web

from service.errors import TransientLookupError
from service.resolve.resolver import open_resolver
from tests.conftest import make_settings
from tests.integration.resolve.test_rdap_guard import DOCUMENT, _serve

INFLATED = 256 * 1024 * 1024


def _bomb() -> bytes:
    """gzip of a JSON object padded with 256 MiB of spaces (about 250 KiB on the wire)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(b'{"objectClassName": "ip network", "pad": "')]
    block = b" " * (1024 * 1024)
    parts += [packer.compress(block) for _ in range(INFLATED // len(block))]
    parts.append(packer.compress(b'"}') + packer.flush())
    return b"".join(parts)


@pytest.fixture
async def registry() -> AsyncIterator[str]:
    bomb, small = _bomb(), gzip.compress(json.dumps(DOCUMENT).encode())

    async def answer(request: web.Request) -> web.Response:
        body = bomb if request.match_info["ip"] == "203.0.113.5" else small
        return web.Response(
            body=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/rdap+json"},
        )

    app = web.Application()
    app.router.add_get("/ip/{ip}", answer)
    async for base in _serve(app, "127.0.0.1"):
        yield base


async def test_a_gzip_bomb_answer_stops_at_the_cap(
    pool: asyncpg.Pool, db_url: str, registry: str
) -> None:
    settings = make_settings(db_url, rdap_bootstrap_url=registry)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    async with open_resolver(pool, settings) as resolver:
        with pytest.raises(TransientLookupError, match="larger than"):
            await resolver.rdap.ip("203.0.113.5")
        small = await resolver.rdap.ip("203.0.113.6")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, grown_mb  # read whole, it was the inflated size
    assert small is not None and small["handle"] == DOCUMENT["handle"]  # gzip still read
