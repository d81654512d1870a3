"""Registry pacing in the resolve stage: a lookup waiting for a throttled registry never
holds up another registry's lookups — it parks (its worker slot serves others) or, when its
slot is further off than rdap_max_wait, its job comes back for the slot reserved for it
(no backoff, no attempt, no failure event, no extra query)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from service.workers.loop import ClaimLoop, loop_config
from service.workers.resolve_stage import ResolveStage, build
from tests.integration.resolve.conftest import Peers
from tests.integration.resolve.test_resolve_stage import _new_case, _state_becomes

LACNIC_A = ("http://img.andesnet.cl/a.jpg", "img.andesnet.cl")
LACNIC_B = ("http://www.riohost.com.br/a.jpg", "www.riohost.com.br")  # another LACNIC network
ARIN = ("http://img.pixelbarn.com/x.jpg", "img.pixelbarn.com")


@asynccontextmanager
async def _loop(
    pool: asyncpg.Pool, peers: Peers, db_url: str, **kw: Any
) -> AsyncIterator[ResolveStage]:
    settings = peers.settings(db_url, worker_poll_interval=0.05, drain_timeout=0.2, **kw)
    stage = build(pool, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(ClaimLoop(pool, stage, loop_config(settings), stop).run())
    try:
        yield stage
    finally:
        stop.set()
        await task
        await stage.aclose()


async def _state(pool: asyncpg.Pool, case_id: int) -> str:
    async with pool.acquire() as conn:
        return str(await conn.fetchval("SELECT state::text FROM cases WHERE id = $1", case_id))


async def test_a_lookup_waiting_for_lacnic_gives_its_slot_to_an_arin_lookup(
    pool: asyncpg.Pool, peers: Peers, db_url: str
) -> None:
    # One worker slot; LACNIC's next slot 6 s after the first query, waited for in-process.
    first = await _new_case(pool, *LACNIC_A)
    waiting = await _new_case(pool, *LACNIC_B)
    other = await _new_case(pool, *ARIN)
    async with _loop(
        pool, peers, db_url, worker_concurrency=1, worker_batch=1,
        rdap_rate_limits={"lacnic": 10.0}, rdap_max_wait=30.0,
    ):  # fmt: skip
        assert await _state_becomes(pool, first, {"resolved"}) == "resolved"
        assert await _state_becomes(pool, other, {"resolved"}) == "resolved"
        # The ARIN case, queued behind the waiting LACNIC lookup, went first.
        assert await _state(pool, waiting) == "resolving"
        assert peers.rdap.counts["lacnic:ip"] == 1 and peers.rdap.counts["arin:ip"] == 1


async def test_a_far_slot_is_reserved_and_the_job_comes_back_for_it(
    pool: asyncpg.Pool, peers: Peers, db_url: str
) -> None:
    # LACNIC once a second; no lookup may wait longer than 0.2 s in the process.
    first = await _new_case(pool, *LACNIC_A)
    deferred = await _new_case(pool, *LACNIC_B)
    async with _loop(
        pool, peers, db_url, worker_concurrency=1, worker_batch=1,
        rdap_rate_limits={"lacnic": 60.0}, rdap_max_wait=0.2,
    ) as stage:  # fmt: skip
        assert await _state_becomes(pool, first, {"resolved"}) == "resolved"
        assert await _state_becomes(pool, deferred, {"resolved"}) == "resolved"
        gate = (await stage.resolver()).rdap.gate
    assert gate.deferred == 1  # its slot was a second off: reserved, the job rescheduled
    assert peers.rdap.counts["lacnic:ip"] == 2  # one query per network, none wasted
    async with pool.acquire() as conn:
        kinds = [
            r["kind"]
            for r in await conn.fetch(
                "SELECT kind FROM case_events WHERE case_id = $1 ORDER BY id", deferred
            )
        ]
    assert "resolution_deferred" not in kinds  # waiting one's turn is not a failure
    assert kinds.count("resolution") == 1
