"""Whatever goes wrong inside a handler, the client gets RFC 9457 problem JSON, never a bare 500."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from service.db.tokens import create_token
from service.settings import Settings
from service.web.app import create_app

DEEPLY_NESTED = b'{"pattern": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
SECRET_INTERNALS = "pool slot 7 of db-primary.internal"


async def _broken_handler(request: web.Request) -> web.Response:
    raise RuntimeError(SECRET_INTERNALS)


@pytest.fixture
async def client(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[TestClient]:
    app = create_app(settings, pool)
    app.router.add_get("/api/v1/broken-on-purpose", _broken_handler)  # stands in for a bug
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


@pytest.fixture
async def hotline(pool: asyncpg.Pool) -> dict[str, str]:
    async with pool.acquire() as conn:
        token = (await create_token(conn, "analyst", "hotline"))[1]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def test_deeply_nested_json_to_any_endpoint_is_a_400_problem(
    client: TestClient, hotline: dict[str, str]
) -> None:
    resp = await client.post("/api/v1/contacts", data=DEEPLY_NESTED, headers=hotline)
    body = await resp.json(content_type=None)
    assert resp.status == 400
    assert resp.content_type == "application/problem+json"
    assert body["type"] == "/problems/malformed-json"


async def test_an_unexpected_error_is_a_500_problem_without_internals_and_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="service.web.middlewares")
    resp = await client.get("/api/v1/broken-on-purpose")
    text = await resp.text()
    assert resp.status == 500
    assert resp.content_type == "application/problem+json"
    assert (await resp.json(content_type=None))["type"] == "/problems/internal"
    assert SECRET_INTERNALS not in text
    traces = [r for r in caplog.records if r.exc_info and SECRET_INTERNALS in str(r.exc_info[1])]
    assert traces, "the stack trace must reach the server's log"
