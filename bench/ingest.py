"""Ingest: N reports through the HTTP API (validation + idempotency + events + jobs) versus a
raw asyncpg batched upsert of the same rows into the same table, in one run.

    python -m bench.ingest --reports 100000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from bench.database import fresh_database, print_ratio
from service.db.pool import create_pool
from service.db.tokens import create_token
from service.domain.urls import normalise_url
from service.settings import Settings
from service.web.app import create_app

BATCH = 1000


def make_reports(n: int) -> list[dict[str, Any]]:
    detected = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    return [
        {
            "url": f"https://cdn{i % 997}.example-host{i % 53}.net/media/{i}/image.jpg",
            "hashes": {"sha256": hashlib.sha256(i.to_bytes(8, "big")).hexdigest()},
            "media_type": "image/jpeg",
            "detected_at": detected,
            "source_ref": f"bench-{i}",
        }
        for i in range(n)
    ]


RAW_UPSERT = """
INSERT INTO cases (url, url_original, host, sha256, media_type, source_ref, detected_at, scanner_id)
SELECT u, u, h, s, 'image/jpeg', r, $5, $6
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(u, h, s, r)
ON CONFLICT DO NOTHING
"""


async def raw_upsert(
    pool: asyncpg.Pool, reports: list[dict[str, Any]], scanner_id: int, concurrency: int
) -> float:
    """The limit: pre-normalised rows, one batched INSERT … ON CONFLICT per 1000."""
    rows = [(normalise_url(r["url"]), r["hashes"]["sha256"], r["source_ref"]) for r in reports]
    detected = datetime.fromisoformat(reports[0]["detected_at"])
    batches = [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]
    sem = asyncio.Semaphore(concurrency)

    async def one(batch: list[Any]) -> None:
        async with sem, pool.acquire() as conn:
            await conn.execute(
                RAW_UPSERT,
                [u.url for u, _, _ in batch],
                [u.host for u, _, _ in batch],
                [s for _, s, _ in batch],
                [r for _, _, r in batch],
                detected,
                scanner_id,
            )

    start = time.perf_counter()
    await asyncio.gather(*(one(b) for b in batches))
    return len(rows) / (time.perf_counter() - start)


async def through_api(
    base: str, secret: str, reports: list[dict[str, Any]], concurrency: int
) -> float:
    batches = [reports[i : i + BATCH] for i in range(0, len(reports), BATCH)]
    sem = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {secret}"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(batch: list[Any]) -> None:
            async with sem, session.post(f"{base}/api/v1/reports", json={"reports": batch}) as resp:
                assert resp.status == 202, await resp.text()

        start = time.perf_counter()
        await asyncio.gather(*(one(b) for b in batches))
        return len(reports) / (time.perf_counter() - start)


async def main(n: int, concurrency: int) -> None:
    reports = make_reports(n)
    async with fresh_database("ingest") as dsn:
        pool = await create_pool(dsn, min_size=2, max_size=concurrency + 2)
        async with pool.acquire() as conn:
            token, secret = await create_token(conn, "bench", "scanner")
        raw = await raw_upsert(pool, reports, token.id, concurrency)
        async with pool.acquire() as conn:
            await conn.execute("TRUNCATE cases, case_events, jobs CASCADE")
        runner = web.AppRunner(create_app(Settings(database_url=dsn), pool), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        ours = await through_api(f"http://127.0.0.1:{port}", secret, reports, concurrency)
        await runner.cleanup()
        await pool.close()
    print(f"ingest of {n} reports, batches of {BATCH}, concurrency {concurrency}")
    print_ratio("ingest", ours, raw, "reports/s", 0.6)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.reports, args.concurrency))


if __name__ == "__main__":
    cli()
