"""PostgreSQL stopped and started twice in the middle of an ingest through the API.

Every report acknowledged with a 2xx must be in the database; while it is away clients get
503 with Retry-After (never a 500 or a hang) and the same API process recovers by itself.
TAKEDOWN_FAULT_REPORTS sets the stream size (default 20 000; the issue's figure is 100 000).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from service.db.migrate import migrate
from service.db.pool import connect_once
from service.db.tokens import create_token
from service.web.app import create_app
from tests.conftest import make_settings
from tests.faults.private_postgres import PrivatePostgres, private_postgres

REPORTS = int(os.environ.get("TAKEDOWN_FAULT_REPORTS", "20000"))
BATCH = 500
CLIENTS = 4


@dataclass
class Tally:
    acknowledged: dict[str, int] = field(default_factory=dict)  # url -> case id
    unavailable: int = 0
    other: list[int] = field(default_factory=list)
    saw_503: asyncio.Event = field(default_factory=asyncio.Event)
    progress: asyncio.Condition = field(default_factory=asyncio.Condition)


def _reports(n: int) -> list[dict[str, Any]]:
    detected = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return [
        {
            "url": f"https://h{i % 61}.fault-host.net/m/{i}.jpg",
            "hashes": {"sha256": hashlib.sha256(f"fault-{i}".encode()).hexdigest()},
            "media_type": "image/jpeg",
            "detected_at": detected,
            "source_ref": f"f-{i}",
        }
        for i in range(n)
    ]


async def _post_until_stored(
    session: aiohttp.ClientSession, base: str, batch: list[dict[str, Any]], tally: Tally
) -> None:
    while True:
        async with session.post(f"{base}/api/v1/reports", json={"reports": batch}) as resp:
            body = await resp.json(content_type=None)
            if resp.status == 202:
                for report, result in zip(batch, body["results"], strict=True):
                    tally.acknowledged[report["url"]] = result["case_id"]
                async with tally.progress:
                    tally.progress.notify_all()
                return
            if resp.status != 503 or "Retry-After" not in resp.headers:
                tally.other.append(resp.status)
                return
            tally.unavailable += 1
            tally.saw_503.set()
            # Honour Retry-After, capped so that the test stays short.
            await asyncio.sleep(min(float(resp.headers["Retry-After"]), 0.1))


async def _client(base: str, secret: str, queue: asyncio.Queue[list[Any]], tally: Tally) -> None:
    timeout = aiohttp.ClientTimeout(total=30)  # a hang fails the test instead of stalling it
    headers = {"Authorization": f"Bearer {secret}"}
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
        while not queue.empty():
            await _post_until_stored(session, base, queue.get_nowait(), tally)


async def _outage_when(pg: PrivatePostgres, tally: Tally, at_least: int) -> None:
    async with tally.progress:
        await tally.progress.wait_for(lambda: len(tally.acknowledged) >= at_least)
    tally.saw_503.clear()
    await pg.astop()
    await asyncio.wait_for(tally.saw_503.wait(), timeout=20)  # clients noticed the outage
    await pg.astart()


@pytest.fixture
def pg() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


async def _prepare(uri: str) -> str:
    conn = await connect_once(uri)
    try:
        await migrate(conn)
        return (await create_token(conn, "fault-scanner", "scanner"))[1]
    finally:
        await conn.close()


@pytest.mark.timeout(110)
async def test_every_acknowledged_report_survives_database_restarts(pg: PrivatePostgres) -> None:
    secret = await _prepare(pg.uri)
    settings = make_settings(pg.uri, rate_limit_burst=100_000, db_connect_timeout=5)
    reports = _reports(REPORTS)
    queue: asyncio.Queue[list[Any]] = asyncio.Queue()
    for i in range(0, REPORTS, BATCH):
        queue.put_nowait(reports[i : i + BATCH])
    tally = Tally()
    async with TestServer(create_app(settings)) as server:
        base = str(server.make_url("")).rstrip("/")
        clients = [asyncio.create_task(_client(base, secret, queue, tally)) for _ in range(CLIENTS)]
        await _outage_when(pg, tally, REPORTS // 3)
        await _outage_when(pg, tally, 2 * REPORTS // 3)
        await asyncio.gather(*clients)
    conn = await asyncpg.connect(pg.uri)
    try:
        stored = dict(await conn.fetch("SELECT url, id FROM cases"))
    finally:
        await conn.close()
    found = sum(1 for url, case_id in tally.acknowledged.items() if stored.get(url) == case_id)
    print(
        f"\nDB restart fault: submitted {REPORTS}, acknowledged {len(tally.acknowledged)}, "
        f"found {found}, 503 answers {tally.unavailable}, other errors {len(tally.other)}"
    )
    assert tally.other == []
    assert tally.unavailable >= 2
    assert len(tally.acknowledged) == REPORTS and found == REPORTS
