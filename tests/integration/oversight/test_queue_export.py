"""The CSV export of an analyst queue carries every case of the queue, however many."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.settings import Settings
from service.web.app import create_app
from tests.integration.oversight.pages import analyst, log_in
from tests.integration.oversight.world import scanner

# More than the 10,000 rows the export used to stop at without saying so.
UNRESOLVED = 10_250


@pytest.fixture
async def client(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with pool.acquire() as conn:
        await analyst(conn, "alice")
        scanner_id = await scanner(conn)
        await conn.execute(
            "INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id,"
            " source_ref, state, detected_at)"
            " SELECT 'http://big.example/' || g || '.png', 'x', 'big.example',"
            " encode(sha256(g::text::bytea), 'hex'), 'image/png', $1, 'bulk', 'unresolved',"
            " now() FROM generate_series(1, $2) g",
            scanner_id,
            UNRESOLVED,
        )
    client = TestClient(TestServer(create_app(settings, pool)))
    await client.start_server()
    yield client
    await client.close()


async def test_queue_export_has_every_case_once(client: TestClient, pool: asyncpg.Pool) -> None:
    await log_in(client, "alice")
    response = await client.get("/oversight/queues/unresolved", params={"format": "csv"})
    assert response.status == 200 and response.content_type == "text/csv"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "queue-unresolved.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    exported = [int(row["Case"]) for row in rows]
    async with pool.acquire() as conn:
        expected = await conn.fetchval("SELECT array_agg(id) FROM cases WHERE state = 'unresolved'")
    assert len(exported) == UNRESOLVED
    assert sorted(exported) == sorted(expected)
    assert {row["URL"] for row in rows[:3]} <= {f"http://big.example/{n}.png" for n in (1, 2, 3)}


async def test_filtered_export_keeps_the_filter_across_chunks(client: TestClient) -> None:
    await log_in(client, "alice")
    response = await client.get(
        "/oversight/queues/unresolved",
        params={"format": "csv", "q": "big.example/1", "sort": "id", "dir": "desc"},
    )
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    ids = [int(row["Case"]) for row in rows]
    # 1, 10-19, 100-199, 1000-1999, 10000-10250: more than one chunk of the export
    assert len(ids) == 1 + 10 + 100 + 1000 + 251
    assert ids == sorted(ids, reverse=True)
    assert all("big.example/1" in row["URL"] for row in rows)
