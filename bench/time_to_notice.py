"""Time to first notice: from intake to SMTP acceptance for a burst of reports, warm caches.

`python -m bench time-to-notice [--reports 10000] [--hosters 300] [--window 10]
[--concurrency 16] [--skip-stages]`

A generated world (DNS and RDAP on loopback, service/sim) and an SMTP server in its own
process. The resolver's caches are warmed first (one URL of every host resolved through the
resolve stage's own resolver: networks and registrars cached). Then the burst: `--reports`
reports POSTed to /api/v1/reports in batches of 1000, while the resolve, outbox and notify
stages run (their claim loops in this process, `notice_gather_window = --window` seconds).
For every case that gets a notice, time to notice = `first_notice_at − received_at`, both
stamped by the service (received by the intake statement, first notice when the SMTP server
accepted the message). Target: p95 ≤ the gathering window + 5 s. Also printed: the split at
resolution (`resolved_at − received_at`, then `first_notice_at − resolved_at`), and then
(bench/notice_stages.py) the outbox and notify stages each alone over as many pre-resolved
cases across `--hosters` desks: cases per second and CPU per case, what the path after
resolution costs once resolution is fast; and both together over as many cases resolved at
once (resolution instant): resolved → first notice, the window plus what sending them takes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from pydantic import SecretStr

from bench.cpu import Cost, backend_cpu, cpu_between
from bench.database import fresh_database
from bench.notice_stages import after_resolution, stages_alone
from bench.notify import SmtpProcess
from service.db.pool import create_pool
from service.db.tokens import create_token
from service.settings import Settings
from service.sim.clock import SimClock
from service.sim.dns import DnsServer
from service.sim.generator import generate_world
from service.sim.rdap import RdapServer
from service.sim.world import World
from service.web.app import create_app
from service.workers.loop import ClaimLoop, Stage, loop_config
from service.workers.notify_stage import NotifyStage
from service.workers.outbox_stage import OutboxStage
from service.workers.resolve_stage import ResolveStage

BATCH = 1000
PENDING = "('received', 'resolving', 'resolved')"


def reports_of(world: World, n: int) -> list[dict[str, Any]]:
    detected = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    return [
        {
            "url": url.url,
            "hashes": {"sha256": hashlib.sha256(f"{i}:{url.url}".encode()).hexdigest()},
            "media_type": "image/jpeg",
            "detected_at": detected,
            "source_ref": f"burst-{i}",
        }
        for i, url in enumerate(world.urls[:n])
    ]


async def warm(stage: ResolveStage, world: World, concurrency: int) -> int:
    """Resolve one URL of every host: the network and registrar caches are then warm."""
    resolver = await stage.resolver()
    first: dict[str, str] = {}
    for url in world.urls:
        first.setdefault(url.host, url.url)
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str) -> None:
        async with gate:
            with contextlib.suppress(Exception):  # a host the world leaves unresolvable
                await resolver.resolve(url)

    await asyncio.gather(*(one(u) for u in first.values()))
    return len(first)


async def post_all(base: str, secret: str, reports: list[dict[str, Any]]) -> float:
    """The burst: every batch POSTed at once; seconds until the last was accepted."""
    bodies = [
        json.dumps({"reports": reports[i : i + BATCH]}) for i in range(0, len(reports), BATCH)
    ]
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    started = time.perf_counter()
    async with aiohttp.ClientSession(headers=headers) as session:

        async def one(body: str) -> None:
            async with session.post(f"{base}/api/v1/reports", data=body) as resp:
                assert resp.status == 202, await resp.text()

        await asyncio.gather(*(one(b) for b in bodies))
    return time.perf_counter() - started


async def pending(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(f"SELECT count(*) FROM cases WHERE state IN {PENDING}"))


async def percentiles(pool: asyncpg.Pool, start: str, end: str) -> tuple[int, float, float, float]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT count(*) AS n,"
            f" percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM {end} - {start})),"
            f" percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM {end} - {start})),"
            f" max(extract(epoch FROM {end} - {start}))"
            f" FROM cases WHERE {end} IS NOT NULL"
        )
    return int(row[0]), float(row[1] or 0), float(row[2] or 0), float(row[3] or 0)


async def run(args: argparse.Namespace) -> None:
    world = generate_world(seed=4, hosters=args.hosters, urls=args.reports, cdns=3, time_scale=0)
    rdap = RdapServer(world, SimClock(), rate_limits={})
    dns = DnsServer(world)
    smtp = SmtpProcess()
    await rdap.start()
    await dns.start()
    try:
        async with fresh_database("notice") as dsn:
            await measure(args, world, dsn, rdap, dns, smtp.port)
        print(f"SMTP server accepted {smtp.count()} messages")
    finally:
        await dns.stop()
        await rdap.stop()
        smtp.stop()
    if not args.skip_stages:
        for stage in await stages_alone(args.reports, args.hosters, args.concurrency):
            print(stage.line())
        print(await after_resolution(args.reports, args.hosters, args.concurrency, args.window))
    print(f"time-to-notice: p95 {LAST['p95']:.1f} s")


LAST: dict[str, float] = {}


async def measure(
    args: argparse.Namespace, world: World, dsn: str, rdap: RdapServer, dns: DnsServer, port: int
) -> None:
    settings = Settings(
        database_url=SecretStr(dsn),
        dns_nameservers=[dns.address],
        rdap_bootstrap_url=rdap.url,
        rdap_rate_limits={},
        rdap_default_rate=1e9,
        smtp_host="127.0.0.1",
        smtp_port=port,
        notice_gather_window=timedelta(seconds=args.window),
        worker_concurrency=args.concurrency,
        worker_batch=args.concurrency,
        worker_poll_interval=0.1,
        db_pool_max=args.concurrency * 2 + 8,
    )
    pool = await create_pool(dsn, min_size=4, max_size=args.concurrency * 3 + 8, retry_for=5)
    async with pool.acquire() as conn:
        _token, secret = await create_token(conn, "bench", "scanner")
    resolve = ResolveStage(pool, settings)
    hosts = await warm(resolve, world, args.concurrency)
    notify = NotifyStage(pool, settings)
    stages: list[Stage] = [resolve, OutboxStage(pool, settings), notify]
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(ClaimLoop(pool, s, loop_config(settings), stop).run()) for s in stages
    ]
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    async with pool.acquire() as conn:
        db_before = await backend_cpu(conn)
    cpu, started = time.process_time(), time.perf_counter()
    try:
        posted = await post_all(base, secret, reports_of(world, args.reports))
        while await pending(pool):  # noqa: ASYNC110 - the end is a database condition
            await asyncio.sleep(0.5)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await asyncio.gather(*loops)
        await resolve.aclose()
        await notify.aclose()
        await runner.cleanup()
    async with pool.acquire() as conn:
        cost = Cost(
            client=time.process_time() - cpu,
            database=cpu_between(db_before, await backend_cpu(conn)),
        )
        unresolved = await conn.fetchval("SELECT count(*) FROM cases WHERE state = 'unresolved'")
    noticed, p50, p95, worst = await percentiles(pool, "received_at", "first_notice_at")
    _n, r50, r95, rmax = await percentiles(pool, "received_at", "resolved_at")
    _n, a50, a95, amax = await percentiles(pool, "resolved_at", "first_notice_at")
    await pool.close()
    print(
        f"{args.reports} reports on {hosts} hosts (caches warmed), POSTed in {posted:.1f} s; "
        f"gathering window {args.window:g} s, concurrency {args.concurrency} per stage"
    )
    print(f"all settled in {elapsed:.1f} s: {noticed} cases noticed, {unresolved} unresolved")
    print(f"received → resolved      p50 {r50:6.1f} s  p95 {r95:6.1f} s  max {rmax:6.1f} s")
    print(f"resolved → first notice  p50 {a50:6.1f} s  p95 {a95:6.1f} s  max {amax:6.1f} s")
    print(f"received → first notice  p50 {p50:6.1f} s  p95 {p95:6.1f} s  max {worst:6.1f} s")
    print(
        f"cpu per report (API, stages, sim peers in this process; database): {cost.per_item(args.reports)}"
    )
    target = args.window + 5
    print(f"target p95 ≤ window + 5 s = {target:g} s: {'meets' if p95 <= target else 'BELOW'}")
    LAST["p95"] = p95


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench time-to-notice", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--hosters", type=int, default=300)
    parser.add_argument("--window", type=float, default=10.0, help="notice_gather_window, s")
    parser.add_argument("--concurrency", type=int, default=16, help="worker_concurrency")
    parser.add_argument(
        "--skip-stages",
        action="store_true",
        help="leave out the outbox and notify stages alone over pre-resolved cases",
    )
    return parser.parse_args(argv)


def cli(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse(argv)))


if __name__ == "__main__":
    cli()
