"""Many workers share the checks: never two on one case at once, a dead worker's lease is
taken over, and per-host politeness holds."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg

from service.db import jobs as job_store
from tests.conftest import make_settings
from tests.integration.probe.cases import FAST, Workers, notified_case, verdicts, wait_for
from tests.integration.probe.conftest import Web
from tests.integration.probe.peers import expected_hashes


async def test_two_workers_never_check_the_same_case_at_once(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    # Deterministic under any load: the origin holds every request until both workers hold
    # claims (each may hold at most concurrency + 2 x batch = 6 of the 12 cases, so the
    # second must take the rest) and requests overlap; the lease and timeout are long enough
    # that no claim can expire while held, which would be the lease takeover tested below.
    web_origin.origin.delay = 0.03
    web_origin.origin.gate = gate = asyncio.Event()
    names = [f"c{i}" for i in range(12)]
    for name in names:
        web_origin.origin.state[name] = "image"
    cases = [await notified_case(pool, web_origin.url(n), expected_hashes()) for n in names]
    held = {"worker_concurrency": 2, "worker_batch": 2, "lease": timedelta(minutes=5)}
    settings = make_settings(
        db_url, **FAST | held | {"probe_per_host_concurrency": 50, "probe_timeout": 60.0}
    )
    async with Workers(pool, settings, count=2) as workers:

        async def both_hold_claims_and_requests_overlap() -> bool:
            claimed = [len(loop.in_flight) for loop in workers.loops]
            return claimed == [6, 6] and web_origin.origin.in_flight >= 2

        await wait_for(both_hold_claims_and_requests_overlap, timeout=60)
        gate.set()

        async def each_checked_thrice() -> bool:
            return all([len(await verdicts(pool, c)) >= 3 for c in cases])

        await wait_for(each_checked_thrice, timeout=60)
    assert all(workers.loops[i].handled > 0 for i in range(2))  # both took part
    assert max(web_origin.origin.path_max_in_flight.values()) == 1
    assert web_origin.origin.max_in_flight > 1  # while different cases did overlap


async def test_a_dead_workers_lease_is_taken_over(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    case_id = await notified_case(pool, web_origin.url("image"), expected_hashes())
    async with pool.acquire() as conn:
        [job] = await job_store.claim(conn, "probe", 1, "dead-worker", timedelta(seconds=0.4))
    claimed_at = time.monotonic()
    async with Workers(pool, make_settings(db_url, **FAST)):

        async def checked() -> bool:
            return bool(await verdicts(pool, case_id))

        await wait_for(checked)
        taken_over_after = time.monotonic() - claimed_at
    assert taken_over_after >= 0.35  # not before the dead worker's lease ran out
    async with pool.acquire() as conn:
        assert not await job_store.finish(conn, job)  # the dead worker's claim is void


async def test_per_host_concurrency_is_respected(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    web_origin.origin.delay = 0.03
    names = [f"h{i}" for i in range(6)]
    for name in names:
        web_origin.origin.state[name] = "image"
    cases = [await notified_case(pool, web_origin.url(n), expected_hashes()) for n in names]
    settings = make_settings(db_url, **FAST | {"probe_per_host_concurrency": 1})
    async with Workers(pool, settings):

        async def all_checked() -> bool:
            return all([bool(await verdicts(pool, c)) for c in cases])

        await wait_for(all_checked)
    assert web_origin.origin.max_in_flight == 1
