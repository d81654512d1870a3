"""How the probe stage schedules fetches among slow hosts: a check that hangs holds only its
own place (its batch-mates are saved and more work is claimed while it hangs), and no host
ever sees more fetches at once than `probe_per_host_concurrency`."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from contextlib import nullcontext
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from service.domain.verdicts import Verdict
from service.probe.runner import ProbeResult
from service.workers.loop import ClaimLoop, loop_config
from service.workers.probe_stage import ProbeStage
from tests.conftest import make_settings
from tests.integration.probe.cases import FAST, notified_case, verdicts, wait_for

ONE_ROUND = FAST | {"recheck_dense_interval": timedelta(hours=1)}
EXPECTED = {"sha256": "ab" * 32}


class HeldHosts:
    """A prober answering "present" at once, except on the hosts in `held`, whose checks
    wait until the test opens `release`. Counts fetches in flight per host."""

    def __init__(self, held: set[str]) -> None:
        self.held = held
        self.release = asyncio.Event()
        self.in_flight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.started: list[str] = []

    def hold(self) -> Any:
        return nullcontext()

    async def close(self) -> None:
        pass

    async def check(self, url: str, expected: Mapping[str, str]) -> ProbeResult:
        host = urlsplit(url).hostname or ""
        self.started.append(url)
        self.in_flight[host] += 1
        self.most[host] = max(self.most[host], self.in_flight[host])
        try:
            if host in self.held:
                await self.release.wait()
            return ProbeResult(Verdict.PRESENT, "sha256 matches", matched="sha256", status=200)
        finally:
            self.in_flight[host] -= 1


async def _cases(pool: asyncpg.Pool, urls: list[str]) -> list[int]:
    return [await notified_case(pool, url, EXPECTED) for url in urls]


async def _released_jobs(pool: asyncpg.Pool, case_ids: list[int]) -> int:
    """Jobs of these cases saved for their next check (no claim, due in about an hour)."""
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE case_id = ANY($1) AND claim_id IS NULL"
                " AND run_at > now() + interval '50 minutes'",
                case_ids,
            )
        )


async def test_a_hanging_check_holds_only_its_own_place(pool: asyncpg.Pool, db_url: str) -> None:
    # Two fetches at a time, claims of two: the hanging check's batch-mate is claimed with it.
    settings = make_settings(db_url, **ONE_ROUND, worker_concurrency=2, worker_batch=2)
    hanging = await notified_case(pool, "http://hangs.example/a", EXPECTED)
    others = await _cases(pool, [f"http://fast{i}.example/x" for i in range(9)])
    prober = HeldHosts({"hangs.example"})
    stop = asyncio.Event()
    loop = ClaimLoop(pool, ProbeStage(pool, settings, prober=prober), loop_config(settings), stop)
    task = asyncio.create_task(loop.run())
    try:

        async def others_saved() -> bool:
            return await _released_jobs(pool, others) == len(others)

        # While the first check hangs, every other case is checked and its job saved — its
        # batch-mate included, which a batch handed back whole would keep until the hang ends.
        await wait_for(others_saved)
        assert prober.in_flight["hangs.example"] == 1 and loop.handled == len(others)
        assert all([await verdicts(pool, c) == ["present"] for c in others])
        assert await verdicts(pool, hanging) == []
        prober.release.set()

        async def all_saved() -> bool:
            return await _released_jobs(pool, [hanging, *others]) == 10

        await wait_for(all_saved)
        assert await verdicts(pool, hanging) == ["present"]
    finally:
        stop.set()
        await task


async def test_no_host_sees_more_fetches_than_its_limit(pool: asyncpg.Pool, db_url: str) -> None:
    settings = make_settings(
        db_url, **ONE_ROUND, worker_concurrency=8, worker_batch=20, probe_per_host_concurrency=2
    )
    busy = await _cases(pool, [f"http://busy.example/{i}" for i in range(12)])
    others = await _cases(pool, [f"http://other{i}.example/x" for i in range(6)])
    prober = HeldHosts({"busy.example"})
    stop = asyncio.Event()
    loop = ClaimLoop(pool, ProbeStage(pool, settings, prober=prober), loop_config(settings), stop)
    task = asyncio.create_task(loop.run())
    try:

        async def others_saved() -> bool:
            return await _released_jobs(pool, others) == len(others)

        # Every case is claimed at once (the window is 8 + 2·20) and six fetch slots are free,
        # yet the busy host has exactly its two fetches in flight; the rest wait their turn.
        await wait_for(others_saved)
        assert prober.in_flight["busy.example"] == 2
        assert sum(url.startswith("http://busy.example/") for url in prober.started) == 2
        prober.release.set()

        async def all_saved() -> bool:
            return await _released_jobs(pool, busy) == len(busy)

        await wait_for(all_saved)
        assert prober.most["busy.example"] == 2  # never more, start to finish
        assert all([await verdicts(pool, c) == ["present"] for c in busy])
    finally:
        stop.set()
        await task
