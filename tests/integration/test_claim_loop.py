"""The one claim loop every stage uses: leases, SKIP LOCKED, retries, draining, the index."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg

from service.db import jobs
from service.db.jobs import Job
from service.db.queries import q
from service.workers.loop import ClaimLoop, Done, LoopConfig, RetryAfter, RunAgainAt, backoff

CONFIG = LoopConfig(
    lease=timedelta(seconds=30),
    batch=10,
    concurrency=4,
    poll_interval=0.02,
    drain_timeout=2.0,
    retry_base=timedelta(milliseconds=10),
    retry_max=timedelta(seconds=1),
)


async def _refs(pool: asyncpg.Pool, kind: str, n: int) -> None:
    async with pool.acquire() as conn:
        for ref in range(1, n + 1):
            await jobs.enqueue_for_ref(conn, kind, ref)


async def _wait_until(predicate: object, timeout: float = 10.0) -> None:
    async def loop() -> None:
        while not await predicate():  # type: ignore[operator]
            await asyncio.sleep(0.01)  # polling an observable condition with a deadline

    await asyncio.wait_for(loop(), timeout)


class Recorder:
    """A stage that records which refs it handled and can fail the first attempts."""

    kind = "test"

    def __init__(self, fail_first: int = 0) -> None:
        self.seen: list[int] = []
        self.fail_first = fail_first
        self.running = 0
        self.max_running = 0

    async def handle(self, job: Job) -> Done | RetryAfter | RunAgainAt:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await asyncio.sleep(0.005)  # simulated work, not synchronisation
            assert job.ref_id is not None
            if job.attempts <= self.fail_first:
                raise OSError("peer went away")
            self.seen.append(job.ref_id)
            return Done()
        finally:
            self.running -= 1


async def _remaining(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'test'"))


async def test_two_loops_share_the_work_and_handle_each_job_once(pool: asyncpg.Pool) -> None:
    await _refs(pool, "test", 200)
    stop = asyncio.Event()
    stages = [Recorder(), Recorder()]
    loops = [ClaimLoop(pool, s, CONFIG, stop) for s in stages]
    tasks = [asyncio.create_task(loop.run()) for loop in loops]
    await _wait_until(lambda: _is_zero(pool))
    stop.set()
    await asyncio.gather(*tasks)
    handled = stages[0].seen + stages[1].seen
    assert sorted(handled) == list(range(1, 201))
    assert all(s.max_running <= CONFIG.concurrency for s in stages)


async def _is_zero(pool: asyncpg.Pool) -> bool:
    return await _remaining(pool) == 0


async def test_transient_failures_are_retried_with_backoff_until_done(pool: asyncpg.Pool) -> None:
    await _refs(pool, "test", 5)
    stop = asyncio.Event()
    stage = Recorder(fail_first=2)
    task = asyncio.create_task(ClaimLoop(pool, stage, CONFIG, stop).run())
    await _wait_until(lambda: _is_zero(pool))
    stop.set()
    await task
    assert sorted(stage.seen) == [1, 2, 3, 4, 5]


async def test_an_expired_lease_is_claimed_again_and_the_old_holder_cannot_finish(
    pool: asyncpg.Pool,
) -> None:
    await _refs(pool, "test", 1)
    async with pool.acquire() as conn:
        [dead] = await jobs.claim(conn, "test", 5, "worker-that-dies", timedelta(milliseconds=1))
        await asyncio.sleep(0.01)  # let the 1 ms lease run out
        [taken] = await jobs.claim(conn, "test", 5, "survivor", timedelta(seconds=30))
        late = await jobs.finish(conn, dead)
        mine = await jobs.finish(conn, taken)
    assert taken.id == dead.id and taken.claim_id != dead.claim_id
    assert late is False and mine is True


async def test_a_job_being_worked_on_is_not_claimed_twice(pool: asyncpg.Pool) -> None:
    await _refs(pool, "test", 3)
    async with pool.acquire() as a, pool.acquire() as b:
        first = await jobs.claim(a, "test", 10, "a", timedelta(seconds=30))
        second = await jobs.claim(b, "test", 10, "b", timedelta(seconds=30))
    assert len(first) == 3 and second == []


async def test_a_new_request_during_work_runs_again_after_it(pool: asyncpg.Pool) -> None:
    await _refs(pool, "test", 1)
    async with pool.acquire() as conn:
        [job] = await jobs.claim(conn, "test", 1, "w", timedelta(seconds=30))
        await jobs.enqueue_for_ref(conn, "test", 1)  # e.g. a hoster says "removed" meanwhile
        await jobs.finish(conn, job)
        again = await jobs.claim(conn, "test", 1, "w", timedelta(seconds=30))
    assert [j.ref_id for j in again] == [1]


async def test_reschedule_keeps_the_job_for_later(pool: asyncpg.Pool) -> None:
    await _refs(pool, "test", 1)
    async with pool.acquire() as conn:
        [job] = await jobs.claim(conn, "test", 1, "w", timedelta(seconds=30))
        later = await conn.fetchval("SELECT now() + interval '1 hour'")
        await jobs.reschedule(conn, job, later)
        due_now = await jobs.claim(conn, "test", 1, "w", timedelta(seconds=30))
        run_at = await conn.fetchval("SELECT run_at FROM jobs WHERE kind = 'test'")
    assert due_now == [] and run_at == later


async def test_stop_drains_in_flight_work(pool: asyncpg.Pool) -> None:
    await _refs(pool, "test", 4)
    started = asyncio.Event()
    release = asyncio.Event()

    class Slow:
        kind = "test"
        finished = 0

        async def handle(self, job: Job) -> Done:
            started.set()
            await release.wait()
            Slow.finished += 1
            return Done()

    stop = asyncio.Event()
    task = asyncio.create_task(ClaimLoop(pool, Slow(), CONFIG, stop).run())
    await started.wait()
    stop.set()
    release.set()
    await task
    assert Slow.finished == 4 and await _remaining(pool) == 0


def test_backoff_doubles_up_to_the_cap() -> None:
    base, cap = timedelta(seconds=30), timedelta(minutes=5)
    assert [backoff(n, base, cap).total_seconds() for n in range(1, 7)] == [
        30,
        60,
        120,
        240,
        300,
        300,
    ]


async def test_the_claim_query_uses_the_due_index_not_a_scan(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO jobs (kind, ref_id, run_at) SELECT (ARRAY['resolve','probe','notify'])[1 + g % 3],"
            " g, now() + (g % 1000) * interval '1 minute' FROM generate_series(1, 30000) g"
        )
        await conn.execute("ANALYZE jobs")
        plan = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) " + q("claim_jobs"), "probe", 20, "w", timedelta(seconds=30)
        )
    text = json.dumps(plan)
    assert "jobs_due" in text
    assert '"Seq Scan"' not in text


async def test_a_request_racing_the_finish_is_never_lost(pool: asyncpg.Pool) -> None:
    """An enqueue that holds the row while the worker finishes: the finish waits and keeps it."""
    await _refs(pool, "test", 1)
    async with pool.acquire() as worker, pool.acquire() as requester:
        [job] = await jobs.claim(worker, "test", 1, "w", timedelta(seconds=30))
        request = requester.transaction()
        await request.start()
        await jobs.enqueue_for_ref(requester, "test", 1)  # row locked, not yet committed
        finishing = asyncio.create_task(jobs.finish(worker, job))
        await _wait_until(lambda: _waiting_on_lock(pool))
        await request.commit()
        settled = await finishing
        again = await jobs.claim(worker, "test", 1, "w", timedelta(seconds=30))
    assert settled is True
    assert [j.ref_id for j in again] == [1]


async def _waiting_on_lock(pool: asyncpg.Pool) -> bool:
    async with pool.acquire() as conn:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    return bool(waiting)
