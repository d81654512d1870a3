"""Re-checks among hostile hosts: the probe stage against Little's law, measured in one run.

`python -m bench recheck-hostile [--urls 10000] [--hosts 1000] [--concurrency 64]
[--batch 64] [--timeout 4] [--per-host 2] [--whole-batches]`

A local web server (its own process) answers for `--hosts` loopback addresses (127.0.x.y,
one listening socket each, so every host is a host to the per-host gate); by its address a
host hangs until the client gives up (10 %), answers after 1–3 s (10 %), or at once (the
rest). The URLs are spread evenly over the hosts, their jobs claimed in random host order.
Ours: the probe stage's claim loop, unchanged, with `probe_timeout = --timeout`,
`worker_concurrency = --concurrency` fetches and `probe_per_host_concurrency = --per-host`.

The bound is Little's law over the same run: with C fetches in flight at all times and a mean
fetch time of W (every fetch's duration measured around the prober), at most C / W checks
finish per second. The ratio is our checks per second over that bound — the share of the run
during which the fetch slots were busy. It is below 1 when slots stand idle: a claimed batch
waiting for its slowest member (`--whole-batches` runs the batch-at-a-time path for
comparison), jobs parked behind a busy host, the ramp-up and the last hanging fetches.
Also printed: the largest number of fetches seen in flight at one host (the politeness limit
must hold) and the verdicts (hung hosts end inconclusive, the others present).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import SecretStr

from bench.database import fresh_database
from service.db.jobs import Job
from service.db.pool import create_pool
from service.probe.client import make_prober
from service.probe.runner import Prober, ProbeResult
from service.settings import Settings
from service.workers.loop import ClaimLoop, Outcome, loop_config
from service.workers.probe_stage import ProbeStage

HANG, SLOW = "hang", "slow"


def host_address(index: int) -> str:
    """The loopback address of host `index` (127.0.1.0 onwards; all of 127/8 is loopback)."""
    return f"127.0.{1 + index // 256}.{index % 256}"


def behaviour(index: int) -> str:
    """Every tenth host hangs, the next one of each ten is slow, the rest answer at once."""
    return {0: HANG, 1: SLOW}.get(index % 10, "fast")


def body(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * 128


def _serve(hosts: int, port_out: multiprocessing.Queue[int]) -> None:
    by_address = {host_address(i): behaviour(i) for i in range(hosts)}
    rng = random.Random(5)

    async def handler(request: web.Request) -> web.Response:
        kind = by_address.get(request.host.rsplit(":", 1)[0], "fast")
        if kind == HANG:
            await asyncio.sleep(3600)  # until the client gives up (cancelled on disconnect)
        elif kind == SLOW:
            await asyncio.sleep(rng.uniform(1.0, 3.0))
        return web.Response(body=body(int(request.match_info["i"])), content_type="image/png")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/u/{i}", handler)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        loop, protocol = asyncio.get_running_loop(), runner.server
        assert protocol is not None  # set up above
        first = await loop.create_server(protocol, host_address(0), 0, backlog=1024)
        port = first.sockets[0].getsockname()[1]
        for i in range(1, hosts):
            await loop.create_server(protocol, host_address(i), port, backlog=256)
        port_out.put(port)
        await asyncio.Event().wait()

    asyncio.run(main())


class Watched:
    """The real prober, timing every fetch and counting fetches in flight per host."""

    def __init__(self, inner: Prober) -> None:
        self.inner = inner
        self.durations: list[float] = []
        self.in_flight: Counter[str] = Counter()
        self.most_at_one_host = 0

    def hold(self) -> Any:
        return self.inner.hold()

    async def close(self) -> None:
        await self.inner.close()

    async def check(
        self, url: str, expected: Mapping[str, str], *, addresses: Sequence[str] = ()
    ) -> ProbeResult:
        host = url.split("/")[2].rsplit(":", 1)[0]
        self.in_flight[host] += 1
        self.most_at_one_host = max(self.most_at_one_host, self.in_flight[host])
        started = time.perf_counter()
        try:
            return await self.inner.check(url, expected, addresses=addresses)
        finally:
            self.durations.append(time.perf_counter() - started)
            self.in_flight[host] -= 1


class CountingLoop(ClaimLoop):
    """The claim loop, setting `done` once `target` jobs are handled and saved."""

    def __init__(self, *args: Any, target: int) -> None:
        super().__init__(*args)
        self.target = target
        self.done = asyncio.Event()

    async def _settle(self, *args: Any) -> None:
        await super()._settle(*args)
        if self.handled >= self.target:
            self.done.set()


class WholeBatches(ProbeStage):
    """The batch-at-a-time path: a claimed batch is handed back only once all of it is done."""

    handle_stream = None  # type: ignore[assignment]  # the loop then calls handle_batch

    async def handle_batch(self, jobs: list[Job]) -> dict[int, Outcome | BaseException]:
        outcomes: dict[int, Outcome | BaseException] = {}
        async for group in ProbeStage.handle_stream(self, jobs):
            outcomes |= group
        return outcomes


async def seed(dsn: str, urls: list[tuple[str, str, int]]) -> None:
    conn = await asyncpg.connect(dsn)
    scanner = await conn.fetchval(
        "INSERT INTO tokens (name, role, secret_sha256) VALUES ('bench', 'scanner', $1)"
        " RETURNING id",
        hashlib.sha256(b"bench").digest(),
    )
    start = datetime.now(UTC) - timedelta(minutes=1)
    # One microsecond apart in the given (shuffled) order: the claim takes them in it.
    await conn.execute(
        "WITH c AS (INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id,"
        " source_ref, detected_at, state, first_notice_at)"
        " SELECT u, u, h, s, 'image/png', $4, 'bench', $5, 'notified', $5"
        " FROM unnest($1::text[], $2::text[], $3::text[]) AS t(u, h, s) RETURNING id, url)"
        " INSERT INTO jobs (kind, case_id, run_at)"
        " SELECT 'probe', c.id, $5 + o.n * interval '1 microsecond'"
        " FROM c JOIN unnest($1::text[]) WITH ORDINALITY AS o(u, n) ON o.u = c.url",
        [u for u, _h, _i in urls],
        [h for _u, h, _i in urls],
        [hashlib.sha256(body(i)).hexdigest() for _u, _h, i in urls],
        scanner,
        start,
    )
    await conn.close()


async def run(dsn: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(
        database_url=SecretStr(dsn),
        allow_private_targets=True,
        worker_concurrency=args.concurrency,
        worker_batch=args.batch,
        worker_poll_interval=0.05,
        probe_timeout=args.timeout,
        probe_per_host_concurrency=args.per_host,
        probe_cloak_profiles=[],
    )
    prober = Watched(make_prober(settings))
    pool = await create_pool(dsn, min_size=4, max_size=args.concurrency + 8, retry_for=5)
    stop = asyncio.Event()
    kind = WholeBatches if args.whole_batches else ProbeStage
    stage = kind(pool, settings, prober=prober)
    loop = CountingLoop(pool, stage, loop_config(settings), stop, target=n)
    started = time.perf_counter()
    task = asyncio.create_task(loop.run())
    await loop.done.wait()
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    async with pool.acquire() as conn:
        verdicts = dict(await conn.fetch("SELECT verdict::text, count(*) FROM checks GROUP BY 1"))
    await pool.close()
    await prober.close()
    return {
        "elapsed": elapsed,
        "durations": prober.durations,
        "most_at_one_host": prober.most_at_one_host,
        "verdicts": verdicts,
    }


async def main(args: argparse.Namespace) -> None:
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(args.hosts, ports), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=60)
        urls = [
            (f"http://{host_address(i % args.hosts)}:{port}/u/{i}", host_address(i % args.hosts), i)
            for i in range(args.urls)
        ]
        random.Random(11).shuffle(urls)
        async with fresh_database("hostile") as dsn:
            await seed(dsn, urls)
            result = await run(dsn, args.urls, args)
        report(args, result)
    finally:
        server.kill()
        server.join()


def report(args: argparse.Namespace, result: dict[str, Any]) -> None:
    durations: list[float] = result["durations"]
    mean = sum(durations) / len(durations)
    rate = args.urls / result["elapsed"]
    bound = args.concurrency / mean
    mix = Counter(behaviour(i) for i in range(args.hosts))
    path = "whole batches" if args.whole_batches else "streamed"
    print(
        f"{args.urls} URLs on {args.hosts} hosts ({mix[HANG]} hang, {mix[SLOW]} slow 1–3 s, "
        f"{mix['fast']} at once); probe timeout {args.timeout:g} s"
    )
    print(
        f"concurrency {args.concurrency} fetches, claim batches of {args.batch} ({path}), "
        f"per host {args.per_host}"
    )
    print(f"verdicts   {result['verdicts']}")
    print(f"fetches    {len(durations)}, mean fetch time {mean * 1000:.0f} ms")
    print(f"elapsed    {result['elapsed']:.1f} s, {rate:.0f} checks/s")
    print(f"bound      {bound:.0f} checks/s (Little's law: {args.concurrency} ÷ {mean:.3f} s)")
    held = "holds" if result["most_at_one_host"] <= args.per_host else "EXCEEDED"
    print(
        f"largest concurrency at one host: {result['most_at_one_host']} "
        f"(limit {args.per_host}: {held})"
    )
    print(f"recheck-hostile: ratio {rate / bound:.2f}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench recheck-hostile", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--urls", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=64, help="fetches in flight")
    parser.add_argument("--batch", type=int, default=64, help="jobs per claim (worker_batch)")
    parser.add_argument("--timeout", type=float, default=4.0, help="probe_timeout, seconds")
    parser.add_argument("--per-host", type=int, default=2, help="probe_per_host_concurrency")
    parser.add_argument(
        "--whole-batches", action="store_true", help="hand batches back whole (the old path)"
    )
    return parser.parse_args(argv)


def cli(argv: list[str] | None = None) -> None:
    asyncio.run(main(parse(argv)))


if __name__ == "__main__":
    cli()
