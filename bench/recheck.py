"""Re-check throughput: the probe stage with all its bookkeeping vs a raw aiohttp GET + sha256.

`python -m bench.recheck [--urls 10000] [--concurrency 32] [--batch 128]`

A local web server (its own process) serves N distinct 4 kB bodies. Ours: N cases in
'notified' with a due probe job each, checked by the probe stage's claim loop in batches
(claim with SKIP LOCKED + lease, load the cases, fetch through the SSRF-guarded session at
most `--concurrency` at a time, hash, verdict, observation rows, streak bookkeeping,
reschedule). Raw: one aiohttp session fetching the same URLs and hashing them with sha256,
at the same concurrency, run before and after ours (the ratio uses their mean). Also prints
the PDQ cost per generated image, and the CPU time per check of each side (this process;
its PostgreSQL backends when the server is local; the web server): on a shared machine the
rates drift with the load, CPU per check much less.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import multiprocessing
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
import numpy as np
from aiohttp import web
from PIL import Image, ImageDraw
from pydantic import SecretStr

from bench.cpu import Cost, backend_cpu, cpu_between, one_process, print_cpu_bound
from bench.database import fresh_database, print_ratio
from service.db.jobs import Job
from service.db.pool import create_pool
from service.probe.digest import pdq_of
from service.settings import Settings
from service.workers.loop import ClaimLoop, loop_config
from service.workers.probe_stage import ProbeStage


class CountingLoop(ClaimLoop):
    """The claim loop, setting `done` once `target` jobs are handled and their outcomes saved."""

    def __init__(self, *args: Any, target: int) -> None:
        super().__init__(*args)
        self.target = target
        self.done = asyncio.Event()

    async def _handle_batch(self, jobs: list[Job]) -> None:
        await super()._handle_batch(jobs)
        if self.handled >= self.target:
            self.done.set()


def body(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * 128


def _serve(port_out: multiprocessing.Queue[int]) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body(int(request.match_info["i"])), content_type="image/png")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/u/{i}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_out.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


async def raw_rate(urls: list[str], concurrency: int, cost: Cost | None = None) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        async with gate, session.get(url) as resp:
            digest = hashlib.sha256()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                digest.update(chunk)

    started, cpu = time.perf_counter(), time.process_time()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session, u) for u in urls))
    if cost is not None:
        cost.client = time.process_time() - cpu
    return len(urls) / (time.perf_counter() - started)


async def seed(dsn: str, urls: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    scanner = await conn.fetchval(
        "INSERT INTO tokens (name, role, secret_sha256) VALUES ('bench', 'scanner', $1)"
        " RETURNING id",
        hashlib.sha256(b"bench").digest(),
    )
    now = datetime.now(UTC)
    await conn.execute(
        "WITH c AS (INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id,"
        " source_ref, detected_at, state, first_notice_at)"
        " SELECT u, u, '127.0.0.1', h, 'image/png', $3, 'bench', $4, 'notified', $4"
        " FROM unnest($1::text[], $2::text[]) AS t(u, h) RETURNING id)"
        " INSERT INTO jobs (kind, case_id, run_at) SELECT 'probe', id, $4 FROM c",
        urls,
        [hashlib.sha256(body(i)).hexdigest() for i in range(len(urls))],
        scanner,
        now - timedelta(minutes=1),
    )
    await conn.close()


async def ours_rate(
    dsn: str, n: int, concurrency: int, batch: int, cost: Cost | None = None
) -> float:
    settings = Settings(
        database_url=SecretStr(dsn),
        allow_private_targets=True,
        worker_concurrency=concurrency,
        worker_batch=batch,
        worker_poll_interval=0.05,
        probe_per_host_concurrency=concurrency,  # every URL is on one local host here
    )
    pool = await create_pool(dsn, min_size=4, max_size=concurrency + 4, retry_for=5)
    stop = asyncio.Event()
    stage = ProbeStage(pool, settings)
    loop = CountingLoop(pool, stage, loop_config(settings), stop, target=n)
    async with pool.acquire() as conn:
        db_before = await backend_cpu(conn)
    started, cpu = time.perf_counter(), time.process_time()
    task = asyncio.create_task(loop.run())
    await loop.done.wait()
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    client_cpu = time.process_time() - cpu
    async with pool.acquire() as conn:
        db_after = await backend_cpu(conn)
        checks = await conn.fetchval("SELECT count(*) FROM checks WHERE verdict = 'present'")
    if cost is not None:
        cost.client, cost.database = client_cpu, cpu_between(db_before, db_after)
    await pool.close()
    assert checks == n, f"{checks} present checks for {n} cases"
    return n / elapsed


def pdq_cost(images: int) -> float:
    rng = np.random.default_rng(7)
    encoded = []
    for _ in range(images):
        img = Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8))
        pen = ImageDraw.Draw(img)
        for _ in range(8):
            x, y = (int(v) for v in rng.integers(0, 200, 2))
            pen.ellipse((x, y, x + 50, y + 40), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=85)
        encoded.append(out.getvalue())
    started = time.perf_counter()
    for data in encoded:
        pdq_of(data, 50_000_000)
    return (time.perf_counter() - started) / images * 1000


async def main(n: int, concurrency: int, batch: int = 128) -> None:
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=10)
        urls = [f"http://127.0.0.1:{port}/u/{i}" for i in range(n)]
        await raw_rate(urls[: min(n, 500)], concurrency)  # warm-up
        raw_cost, our_cost = Cost(server_label="web server"), Cost(server_label="web server")
        server_cpu = one_process(server.pid)
        raw = await raw_rate(urls, concurrency, raw_cost)
        raw_cost.server = one_process(server.pid) - server_cpu
        async with fresh_database("recheck") as dsn:
            await seed(dsn, urls)
            server_cpu = one_process(server.pid)
            ours = await ours_rate(dsn, n, concurrency, batch, our_cost)
            our_cost.server = one_process(server.pid) - server_cpu
        # The raw loop again right after ours: on a shared machine the load drifts, and the
        # mean of the runs either side of ours is the fairer limit to compare against.
        raw_after = await raw_rate(urls, concurrency)
        print(f"{n} URLs, concurrency {concurrency}, claim batches of {batch}")
        print(f"raw before {raw:.0f} checks/s, after {raw_after:.0f} checks/s")
        print_ratio("recheck", ours, (raw + raw_after) / 2, "checks/s", 0.75)
        print(f"cpu/check  ours {our_cost.per_item(n)}")
        print(f"           raw  {raw_cost.per_item(n)}")
        print_cpu_bound(our_cost, raw_cost, n, n, 0.75)
        print(f"pdq        {pdq_cost(20):.1f} ms per 256×256 JPEG (decode + hash)")
    finally:
        server.kill()
        server.join()


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32, help="fetches in flight")
    parser.add_argument("--batch", type=int, default=128, help="jobs per claim (worker_batch)")
    args = parser.parse_args()
    asyncio.run(main(args.urls, args.concurrency, args.batch))


if __name__ == "__main__":
    cli()
