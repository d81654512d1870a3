"""The path after resolution alone: outbox and notify over pre-resolved cases, CPU per case.

Part of `python -m bench time-to-notice` (also `python -m bench.notice_stages --cases 10000
--desks 300`). `--cases` resolved cases spread over `--desks` abuse desks, as the resolve
stage leaves them (route, outbox job), on a fresh database; the outbox stage runs alone until
every case is placed, then the notify stage alone (window 0) until every notice is accepted by
an SMTP server in its own process. Each prints cases per second and its CPU per case, this
process and PostgreSQL's backends apart: what the path after resolution costs once
resolution is fast. Then both together (`--window`) over as many cases resolved at once:
resolved → first notice p50/p95, i.e. the window plus the time to send them all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from pydantic import SecretStr

from bench.cpu import Cost, backend_cpu, cpu_between
from bench.database import fresh_database
from bench.notify import SmtpProcess, seed
from service.db.pool import create_pool
from service.settings import Settings
from service.workers.loop import ClaimLoop, Stage, loop_config
from service.workers.notify_stage import NotifyStage
from service.workers.outbox_stage import OutboxStage

OUTBOX_DONE = "SELECT NOT EXISTS (SELECT FROM jobs WHERE kind = 'outbox')"
NOTIFY_DONE = "SELECT NOT EXISTS (SELECT FROM notices WHERE state <> 'sent')"


@dataclass
class StageRun:
    """One stage alone over the cases: seconds and CPU spent."""

    name: str
    cases: int
    seconds: float
    cost: Cost

    def line(self) -> str:
        rate = self.cases / self.seconds
        return (
            f"{self.name:<7} alone: {self.cases} cases in {self.seconds:5.1f} s = "
            f"{rate:6,.0f} cases/s; cpu per case {self.cost.per_item(self.cases)}"
        )


async def run_until(pool: asyncpg.Pool, settings: Settings, stage: Stage, done: str) -> float:
    """Run a stage's claim loop until `done` (SQL) is true; seconds taken. Polled every 0.1 s:
    the poll's own database time counts in the stage's cost, so it is kept rare."""
    stop = asyncio.Event()
    loop = asyncio.create_task(ClaimLoop(pool, stage, loop_config(settings), stop).run())
    started = time.perf_counter()
    async with pool.acquire() as conn:
        while not await conn.fetchval(done):  # noqa: ASYNC110 - the end is a database condition
            await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - started
    stop.set()
    await loop
    return elapsed


async def _timed(
    pool: asyncpg.Pool, settings: Settings, name: str, stage: Stage, done: str, cases: int
) -> StageRun:
    async with pool.acquire() as conn:
        db_before = await backend_cpu(conn)
    cpu = time.process_time()
    seconds = await run_until(pool, settings, stage, done)
    async with pool.acquire() as conn:
        cost = Cost(time.process_time() - cpu, cpu_between(db_before, await backend_cpu(conn)))
    return StageRun(name, cases, seconds, cost)


@contextlib.asynccontextmanager
async def _seeded(
    cases: int, desks: int, concurrency: int, window: float
) -> AsyncIterator[tuple[asyncpg.Pool, Settings]]:
    """A fresh database with `cases` resolved cases over `desks` desks (outbox jobs due), and
    settings sending to an SMTP server in its own process."""
    smtp = SmtpProcess()
    try:
        async with fresh_database("stages") as dsn:
            settings = Settings(
                database_url=SecretStr(dsn),
                smtp_host="127.0.0.1",
                smtp_port=smtp.port,
                notice_gather_window=timedelta(seconds=window),
                worker_concurrency=concurrency,
                worker_batch=concurrency,
                worker_poll_interval=0.05,
                db_pool_max=concurrency * 2 + 8,
            )
            pool = await create_pool(dsn, min_size=2, max_size=concurrency * 2 + 8)
            try:
                await seed(pool, cases, desks)
                yield pool, settings
            finally:
                await pool.close()
    finally:
        smtp.stop()


async def stages_alone(cases: int, desks: int, concurrency: int) -> list[StageRun]:
    """Outbox, then notify, each alone over `cases` pre-resolved cases (window 0)."""
    async with _seeded(cases, desks, concurrency, 0) as (pool, settings):
        outbox = OutboxStage(pool, settings)
        runs = [await _timed(pool, settings, "outbox", outbox, OUTBOX_DONE, cases)]
        async with pool.acquire() as conn:
            await conn.execute("ANALYZE")  # as autovacuum would, after the writes
        notify = NotifyStage(pool, settings)
        runs.append(await _timed(pool, settings, "notify", notify, NOTIFY_DONE, cases))
        await notify.aclose()
    return runs


async def after_resolution(cases: int, desks: int, concurrency: int, window: float) -> str:
    """Outbox and notify together over `cases` cases all resolved at once, as a burst would
    leave them were resolution instant: resolved → first notice, p50/p95/max."""
    async with _seeded(cases, desks, concurrency, window) as (pool, settings):
        notify = NotifyStage(pool, settings)
        stop = asyncio.Event()
        loops = [
            asyncio.create_task(ClaimLoop(pool, stage, loop_config(settings), stop).run())
            for stage in (OutboxStage(pool, settings), notify)
        ]
        async with pool.acquire() as conn:
            while await conn.fetchval(UNNOTIFIED):  # noqa: ASYNC110 - a database condition
                await asyncio.sleep(0.1)
            stop.set()
            await asyncio.gather(*loops)
            await notify.aclose()
            row = await conn.fetchrow(AFTER_RESOLUTION)
    return (
        f"{cases} cases resolved at once, window {window:g} s, outbox and notify together: "
        f"resolved → first notice p50 {row[0]:.1f} s  p95 {row[1]:.1f} s  max {row[2]:.1f} s"
    )


UNNOTIFIED = "SELECT EXISTS (SELECT FROM cases WHERE first_notice_at IS NULL)"
AFTER_RESOLUTION = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_notice_at - resolved_at)),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM first_notice_at - resolved_at)),
       max(extract(epoch FROM first_notice_at - resolved_at))
FROM cases
"""


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--desks", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--window", type=float, default=10.0, help="notice_gather_window, s")
    args = parser.parse_args()
    for run in asyncio.run(stages_alone(args.cases, args.desks, args.concurrency)):
        print(run.line())
    print(asyncio.run(after_resolution(args.cases, args.desks, args.concurrency, args.window)))


if __name__ == "__main__":
    cli()
