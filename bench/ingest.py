"""Ingest: N reports through the HTTP API (validation + idempotency + events + jobs) versus
raw asyncpg statements writing the same rows, in one run.

    python -m bench.ingest --reports 100000 [--no-serve] [--rounds 5]

Two floors: the single-table upsert of the case rows (the historical figure), and the raw cost
of the same durable writes — each case with its 'received' event and its resolve job, one
statement per batch of pre-normalised rows, no HTTP, no validation (target: ours ÷ that
floor ≥ 0.8). The sides take turns on the same slice of the reports, round after round, so
that a shared machine's drifting load reaches each side alike. Then, unless --no-serve, the
API rate while `takedown serve` runs its workers too, as users run it: the real command in its
own process, its resolve stage working through the new cases against a loopback DNS server
(they are NXDOMAIN there: unresolved).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from pydantic import SecretStr

from bench.cpu import Cost, backend_cpu, cpu_between, one_process, print_cpu_bound
from bench.database import fresh_database, print_ratio
from service.db.cases import ingest_reports
from service.db.pool import create_pool
from service.db.tokens import create_token
from service.domain.reports import ValidReport, validate_batch
from service.domain.urls import normalise_url
from service.settings import Settings
from service.sim.dns import DnsServer
from service.sim.world import World
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


# The floor of the same durable writes: the case row, its 'received' event (a chain start,
# hashed without a canonical form) and its resolve job, one statement, nothing checked.
RAW_THREE_ROWS = """
WITH c AS (
    INSERT INTO cases (url, url_original, host, sha256, sha1, md5, pdq, media_type,
                       classification, source_ref, detected_at, scanner_id)
    SELECT * , $12 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                               $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                               $11::timestamptz[])
    ON CONFLICT DO NOTHING
    RETURNING id, received_at
), e AS (
    INSERT INTO case_events (id, case_id, actor, kind, to_state, detail, at, hash)
    SELECT nextval('case_events_id_seq'), id, 'bench', 'received', 'received', '{"via": "bench"}'::jsonb, received_at,
           sha256(int8send(id))
    FROM c
), j AS (
    INSERT INTO jobs (kind, case_id, run_at) SELECT 'resolve', id, received_at FROM c
)
SELECT count(*) FROM c
"""

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
    statement: str = RAW_UPSERT,
) -> float:
    """The limit: the same rows, pre-normalised, one batched statement per 1000. Seconds."""
    batches = [_raw_columns(reports[i : i + BATCH]) for i in range(0, len(reports), BATCH)]
    sem = asyncio.Semaphore(concurrency)

    async def one(columns: list[list[Any]]) -> None:
        async with sem, pool.acquire() as conn:
            await conn.execute(statement, *columns, scanner_id)

    async with _measured(pool, cost):
        start = time.perf_counter()
        await asyncio.gather(*(one(b) for b in batches))
        return time.perf_counter() - start


@asynccontextmanager
async def _measured(pool: asyncpg.Pool, cost: Cost) -> AsyncIterator[None]:
    """CPU of this process and of the database's backends while the block runs (added up
    over the rounds)."""
    async with pool.acquire() as conn:
        before, cpu = await backend_cpu(conn), time.process_time()
    yield
    async with pool.acquire() as conn:
        cost.client += time.process_time() - cpu
        spent = cpu_between(before, await backend_cpu(conn))
    if spent is not None:
        cost.database = (cost.database or 0.0) + spent


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
        return time.perf_counter() - start


def _serve_api(dsn: str, port_out: multiprocessing.Queue[int]) -> None:
    """The API in its own process, as `takedown serve` runs it (its own pool, its own core)."""

    async def run() -> None:
        settings = Settings(database_url=SecretStr(dsn), db_pool_max=8)
        runner = web.AppRunner(create_app(settings), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port_out.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(run())


ROUNDS = 5


@dataclass
class Side:
    """One side of the comparison, added up over the rounds."""

    cost: Cost = field(default_factory=Cost)
    seconds: float = 0.0
    reports: int = 0

    def rate(self) -> float:
        return self.reports / self.seconds if self.seconds else 0.0


async def main(n: int, concurrency: int, serve: bool = True, rounds: int = ROUNDS) -> None:
    reports = make_reports(n)
    async with fresh_database("ingest") as dsn:
        pool = await create_pool(dsn, min_size=2, max_size=concurrency + 2)
        async with pool.acquire() as conn:
            token, secret = await create_token(conn, "bench", "scanner")
        raw, floor, same_sql = Side(), Side(), Side()
        ours = Side(Cost(server_label="API process"))
        try:
            async with _api_server(dsn) as api:
                # The sides take turns on the same slice of reports, round after round: on a
                # shared machine whose load drifts by the minute, each side sees the same drift.
                for chunk in _rounds(reports, rounds):
                    await _side(
                        raw, chunk, pool, raw_upsert(pool, chunk, token.id, concurrency, raw.cost)
                    )
                    await _side(
                        floor,
                        chunk,
                        pool,
                        raw_upsert(pool, chunk, token.id, concurrency, floor.cost, RAW_THREE_ROWS),
                    )
                    await _side(
                        same_sql,
                        chunk,
                        pool,
                        raw_same_statement(pool, chunk, token.id, concurrency, same_sql.cost),
                    )
                    await _side(
                        ours, chunk, pool, api.post(chunk, secret, concurrency, pool, ours.cost)
                    )
            served = (
                await _api_with_workers(dsn, secret, reports, concurrency, pool) if serve else None
            )
        finally:
            await pool.close()
    _report(n, concurrency, rounds, raw, floor, same_sql, ours, served)


def _rounds(reports: list[dict[str, Any]], rounds: int) -> list[list[dict[str, Any]]]:
    size = -(-len(reports) // rounds)
    return [reports[i : i + size] for i in range(0, len(reports), size)]


async def _side(
    side: Side, chunk: list[dict[str, Any]], pool: asyncpg.Pool, run: Awaitable[float]
) -> None:
    side.seconds += await run
    side.reports += len(chunk)
    await _empty(pool)


def _report(
    n: int, concurrency: int, rounds: int, raw: Side, floor: Side, same_sql: Side, ours: Side,
    served: float | None,
) -> None:  # fmt: skip
    print(f"ingest of {n} reports, batches of {BATCH}, concurrency {concurrency}, {rounds} rounds")
    print_ratio("ingest", ours.rate(), raw.rate(), "reports/s", 0.6)
    print_ratio("vs floor", ours.rate(), floor.rate(), "reports/s", 0.8)
    print(f"cpu/report ours {ours.cost.per_item(n)}")
    print(f"           raw  {raw.cost.per_item(n)}")
    print(f"           floor (case + event + job rows, one statement) {floor.cost.per_item(n)}")
    print(f"           the intake statement alone: {same_sql.cost.per_item(n)}")
    print_cpu_bound(ours.cost, raw.cost, n, n, 0.6)
    print_cpu_bound(ours.cost, floor.cost, n, n, 0.8)
    # Not a target: how much of the gap is the HTTP/validation layer and how much the extra
    # rows every case gets (its audit-chained 'received' event and its resolve job).
    print(
        f"  (the intake statement itself, fed pre-validated arrays without HTTP: "
        f"{same_sql.rate():,.0f} reports/s; API vs that: {ours.rate() / same_sql.rate():.2f})"
    )
    if served is not None:
        print(
            f"API while `takedown serve` runs its workers: {served:,.0f} reports/s "
            f"({served / ours.rate():.2f} of the API alone, {served / floor.rate():.2f} of the floor)"
        )
    print(f"ingest: ours ÷ floor {ours.rate() / floor.rate():.2f}")


class _Api:
    """The API alone in its own process (see _serve_api)."""

    def __init__(self, port: int, pid: int | None) -> None:
        self.base, self.pid = f"http://127.0.0.1:{port}", pid

    async def post(
        self,
        reports: list[dict[str, Any]],
        secret: str,
        concurrency: int,
        pool: asyncpg.Pool,
        cost: Cost,
    ) -> float:
        api_cpu = one_process(self.pid)
        async with _measured(pool, cost):
            seconds = await through_api(self.base, secret, reports, concurrency)
        cost.server += one_process(self.pid) - api_cpu
        return seconds


@asynccontextmanager
async def _api_server(dsn: str) -> AsyncIterator[_Api]:
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = ctx.Queue()
    server = ctx.Process(target=_serve_api, args=(dsn, ports), daemon=True)
    server.start()
    try:
        port = await asyncio.to_thread(ports.get, True, 60)
        yield _Api(port, server.pid)
    finally:
        server.terminate()
        server.join(10)


async def _api_with_workers(
    dsn: str, secret: str, reports: list[dict[str, Any]], concurrency: int, pool: asyncpg.Pool
) -> float:
    """`takedown serve` itself (HTTP and every stage in one process), its DNS on loopback."""
    dns = DnsServer(World.default())
    await dns.start()
    port = _free_port()
    env = os.environ | {
        "TAKEDOWN_DATABASE_URL": dsn,
        "TAKEDOWN_LISTEN": f"127.0.0.1:{port}",
        "TAKEDOWN_DNS_NAMESERVERS": dns.address,
        "TAKEDOWN_ABUSIX_ZONE": "",
        "TAKEDOWN_SMTP_HOST": "127.0.0.1",
        "TAKEDOWN_SMTP_PORT": "9",
        "TAKEDOWN_WORKER_POLL_INTERVAL": "0.2",
    }
    serve = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "serve", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        await _ready(base)
        rate = len(reports) / await through_api(base, secret, reports, concurrency)
        async with pool.acquire() as conn:
            worked = await conn.fetchval("SELECT count(*) FROM cases WHERE state <> 'received'")
        print(f"  (`takedown serve`: its workers had taken up {worked:,} cases meanwhile)")
        return rate
    finally:
        serve.terminate()
        await serve.wait()
        await dns.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _ready(base: str) -> None:
    """Wait (up to a minute) until the server answers /healthz."""
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            try:
                async with session.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)  # a child process starting: poll its health endpoint
    raise RuntimeError("takedown serve did not come up within a minute")


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
        return time.perf_counter() - start


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--no-serve", action="store_true", help="skip the takedown serve run")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="turns the sides take")
    args = parser.parse_args()
    asyncio.run(main(args.reports, args.concurrency, serve=not args.no_serve, rounds=args.rounds))


if __name__ == "__main__":
    cli()
