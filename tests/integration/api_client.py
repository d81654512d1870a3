"""A started API server plus tokens of every role, for driving the API over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from service.db.tokens import create_token
from service.settings import Settings
from service.web.app import create_app


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@asynccontextmanager
async def running_api(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    tokens = {}
    async with pool.acquire() as conn:
        for role, name in [
            ("scanner", "scanner-a"),
            ("hotline", "analyst"),
            ("supervisor", "chief"),
            ("probe", "probe-1"),
        ]:
            tokens[role] = (await create_token(conn, name, role))[1]
        tokens["scanner-b"] = (await create_token(conn, "scanner-b", "scanner"))[1]
    client = TestClient(TestServer(create_app(settings, pool)))
    await client.start_server()
    try:
        yield Api(client, tokens)
    finally:
        await client.close()
