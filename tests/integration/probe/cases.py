"""Helpers to put cases in the state the notify stage would leave them in, and to run the
probe stage until an observable condition holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from service.db.jobs import enqueue_for_case
from service.db.tokens import create_token
from service.settings import Settings
from service.workers.loop import ClaimLoop, loop_config
from service.workers.probe_stage import ProbeStage

FAST = {
    "recheck_dense_interval": timedelta(seconds=0.05),
    "recheck_dense_for": timedelta(hours=1),
    "recheck_jitter": 0.0,
    "removal_streak": 2,
    "removal_min_span": timedelta(seconds=0.15),
    "watch_after_removal": [timedelta(seconds=0.3), timedelta(seconds=0.6)],
    "probe_timeout": 2.0,
    "lease": timedelta(seconds=2),
    "worker_poll_interval": 0.02,
    "retry_base": timedelta(seconds=0.05),
    # Scripted servers answer one behaviour per request; a profile retry would consume one.
    "probe_cloak_profiles": [],
}


async def notified_case(
    pool: asyncpg.Pool,
    url: str,
    expected: dict[str, str],
    *,
    state: str = "notified",
    noticed_ago: timedelta = timedelta(minutes=5),
    enqueue: bool = True,
) -> int:
    """A case as the notify stage leaves it: notified, first_notice_at stamped, probe job due."""
    async with pool.acquire() as conn:
        scanner = await conn.fetchval("SELECT id FROM tokens WHERE name = 'scanner-probe-tests'")
        if scanner is None:
            scanner = (await create_token(conn, "scanner-probe-tests", "scanner"))[0].id
        now = datetime.now(UTC)
        case_id: int = await conn.fetchval(
            "INSERT INTO cases (url, url_original, host, sha256, pdq, media_type, scanner_id,"
            " source_ref, detected_at, state, first_notice_at)"
            " VALUES ($1, $1, $2, $3, $4, 'image/png', $5, 'test', $6, $7, $8) RETURNING id",
            url,
            urlsplit(url).hostname,
            expected.get("sha256"),
            expected.get("pdq"),
            scanner,
            now - noticed_ago - timedelta(hours=1),
            state,
            now - noticed_ago if state != "held" else None,
        )
        if enqueue:
            await enqueue_for_case(conn, "probe", case_id)
    return case_id


async def case_row(pool: asyncpg.Pool, case_id: int) -> dict[str, Any]:
    async with pool.acquire() as conn:
        return dict(await conn.fetchrow("SELECT * FROM cases WHERE id = $1", case_id))


async def verdicts(pool: asyncpg.Pool, case_id: int) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT verdict FROM checks WHERE case_id = $1 ORDER BY id", case_id
        )
    return [r["verdict"] for r in rows]


async def wait_for(condition: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached before the deadline")
        await asyncio.sleep(0.02)


class Workers:
    """Probe-stage claim loops running until the test is done with them."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, count: int = 1) -> None:
        self.stop = asyncio.Event()
        self.stages = [ProbeStage(pool, settings) for _ in range(count)]
        self.loops = [ClaimLoop(pool, s, loop_config(settings), self.stop) for s in self.stages]
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Workers:
        for index, loop in enumerate(self.loops):
            loop.name = f"{loop.name}:{index}"  # distinct workers, as on distinct hosts
            self.tasks.append(asyncio.create_task(loop.run()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)
        for stage in self.stages:
            await stage.aclose()


async def until_state(pool: asyncpg.Pool, case_id: int, state: str) -> None:
    async def reached() -> bool:
        return (await case_row(pool, case_id))["state"] == state

    await wait_for(reached)
