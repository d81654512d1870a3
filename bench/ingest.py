"""Ingest: N reports through the HTTP API (validation + idempotency + events + jobs) versus a
raw asyncpg batched upsert of the same rows into the same table, in one run.

    python -m bench.ingest --reports 100000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from bench.cpu import Cost, backend_cpu, cpu_between, one_process, print_cpu_bound
from bench.database import fresh_database, print_ratio
from service.db.cases import ingest_reports
from service.db.pool import create_pool
from service.db.tokens import create_token
from service.domain.reports import ValidReport, validate_batch
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
INSERT INTO cases (url, url_original, host, sha256, sha1, md5, pdq, media_type, classification,
                   source_ref, detected_at, scanner_id)
SELECT * , $12 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                           $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                           $11::timestamptz[])
ON CONFLICT DO NOTHING
"""


def _raw_columns(reports: list[dict[str, Any]]) -> list[list[Any]]:
    """Every stored field of every report, already normalised: nothing left to check."""
    urls = [normalise_url(r["url"]) for r in reports]
    hashes = [r["hashes"] for r in reports]
    return [
        [u.url for u in urls],
        [u.original for u in urls],
        [u.host for u in urls],
        *[[h.get(name) for h in hashes] for name in ("sha256", "sha1", "md5", "pdq")],
        [r["media_type"] for r in reports],
        [r.get("classification") for r in reports],
        [r["source_ref"] for r in reports],
        [datetime.fromisoformat(r["detected_at"]) for r in reports],
    ]


async def raw_upsert(
    pool: asyncpg.Pool,
    reports: list[dict[str, Any]],
    scanner_id: int,
    concurrency: int,
    cost: Cost,
) -> float:
    """The limit: the same rows, pre-normalised, one batched INSERT … ON CONFLICT per 1000."""
    batches = [_raw_columns(reports[i : i + BATCH]) for i in range(0, len(reports), BATCH)]
    sem = asyncio.Semaphore(concurrency)

    async def one(columns: list[list[Any]]) -> None:
        async with sem, pool.acquire() as conn:
            await conn.execute(RAW_UPSERT, *columns, scanner_id)

    async with _measured(pool, cost):
        start = time.perf_counter()
        await asyncio.gather(*(one(b) for b in batches))
        return len(reports) / (time.perf_counter() - start)


@asynccontextmanager
async def _measured(pool: asyncpg.Pool, cost: Cost) -> AsyncIterator[None]:
    """CPU of this process and of the database's backends while the block runs."""
    async with pool.acquire() as conn:
        before, cpu = await backend_cpu(conn), time.process_time()
    yield
    async with pool.acquire() as conn:
        cost.client += time.process_time() - cpu
        cost.database = cpu_between(before, await backend_cpu(conn))


async def through_api(
    base: str, secret: str, reports: list[dict[str, Any]], concurrency: int
) -> float:
    # The scanner's own JSON encoding is not the service's cost: bodies are ready beforehand.
    bodies = [
        json.dumps({"reports": reports[i : i + BATCH]}).encode()
        for i in range(0, len(reports), BATCH)
    ]
    sem = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(body: bytes) -> None:
            async with sem, session.post(f"{base}/api/v1/reports", data=body) as resp:
                assert resp.status == 202, await resp.text()

        start = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return len(reports) / (time.perf_counter() - start)


def _serve_api(dsn: str, port_out: multiprocessing.Queue[int]) -> None:
    """The API in its own process, as `takedown serve` runs it (its own pool, its own core)."""

    async def run() -> None:
        settings = Settings(database_url=dsn, db_pool_max=8)
        runner = web.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(run())


async def main(n: int, concurrency: int) -> None:
    reports = make_reports(n)
    async with fresh_database("ingest") as dsn:
        pool = await create_pool(dsn, min_size=2, max_size=concurrency + 2)
        async with pool.acquire() as conn:
            token, secret = await create_token(conn, "bench", "scanner")
        raw_cost, statement_cost, our_cost = Cost(), Cost(), Cost(server_label="API process")
        raw = await raw_upsert(pool, reports, token.id, concurrency, raw_cost)
        await _empty(pool)
        same_sql = await raw_same_statement(pool, reports, token.id, concurrency, statement_cost)
        await _empty(pool)
        ctx = multiprocessing.get_context("spawn")
        ports: multiprocessing.Queue[int] = ctx.Queue()
        server = ctx.Process(target=_serve_api, args=(dsn, ports), daemon=True)
        server.start()
        try:
            port = await asyncio.to_thread(ports.get, True, 60)
            api_cpu = one_process(server.pid)
            async with _measured(pool, our_cost):
                ours = await through_api(f"http://127.0.0.1:{port}", secret, reports, concurrency)
            our_cost.server = one_process(server.pid) - api_cpu
        finally:
            server.terminate()
            server.join(10)
            await pool.close()
    print(f"ingest of {n} reports, batches of {BATCH}, concurrency {concurrency}")
    print_ratio("ingest", ours, raw, "reports/s", 0.6)
    print(f"cpu/report ours {our_cost.per_item(n)}")
    print(f"           raw  {raw_cost.per_item(n)}")
    print(f"           the intake statement alone: {statement_cost.per_item(n)}")
    print_cpu_bound(our_cost, raw_cost, n, n, 0.6)
    # Not a target: how much of the gap is the HTTP/validation layer and how much the extra
    # rows every case gets (its audit-chained 'received' event and its resolve job).
    print(
        f"  (the intake statement itself, fed pre-validated arrays without HTTP: "
        f"{same_sql:,.0f} reports/s; API vs that: {ours / same_sql:.2f})"
    )


async def _empty(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE cases, case_events, jobs CASCADE")


async def raw_same_statement(
    pool: asyncpg.Pool,
    reports: list[dict[str, Any]],
    scanner_id: int,
    concurrency: int,
    cost: Cost,
) -> float:
    """service.db.cases.ingest_reports on pre-validated batches: the database's share."""
    checked = validate_batch([*reports], now=datetime.now(UTC), max_skew=timedelta(minutes=5))
    valid = [c for c in checked if isinstance(c, ValidReport)]
    sem = asyncio.Semaphore(concurrency)

    async def one(batch: list[ValidReport]) -> None:
        async with sem:
            await ingest_reports(pool, batch, scanner_id=scanner_id, actor="bench", via="bench")

    async with _measured(pool, cost):
        start = time.perf_counter()
        await asyncio.gather(*(one(valid[i : i + BATCH]) for i in range(0, len(valid), BATCH)))
        return len(valid) / (time.perf_counter() - start)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.reports, args.concurrency))


if __name__ == "__main__":
    cli()
