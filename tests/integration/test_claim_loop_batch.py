"""The claim loop's batch path: one claim per batch, outcomes saved in one statement per kind,
a lost lease detected and left to its new holder, requests made meanwhile kept."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from service.db import jobs
from service.db.jobs import Job
from service.workers.loop import ClaimLoop, Done, LoopConfig, Outcome, RetryAfter, RunAgainAt

CONFIG = LoopConfig(
    lease=timedelta(seconds=30),
    batch=10,
    concurrency=4,
    poll_interval=0.02,
    drain_timeout=2.0,
    retry_base=timedelta(seconds=60),
    retry_max=timedelta(hours=1),
)
LATER = datetime(2100, 1, 1, tzinfo=UTC)


class BatchRecorder:
    """A batch stage answering each ref with the outcome `plan` gives it."""

    kind = "test"

    def __init__(
        self,
        plan: Callable[[Job], Outcome | BaseException | None],
        meanwhile: Callable[[list[Job]], Awaitable[None]] | None = None,
    ) -> None:
        self.plan = plan
        self.meanwhile = meanwhile
        self.batches: list[list[int]] = []

    async def handle(self, job: Job) -> Outcome:
        raise AssertionError("a batch stage is handed whole batches")

    async def handle_batch(self, batch: list[Job]) -> Mapping[int, Outcome | BaseException]:
        self.batches.append(sorted(j.ref_id or 0 for j in batch))
        if self.meanwhile is not None:
            await self.meanwhile(batch)
        answers = {job.id: self.plan(job) for job in batch}
        return {job_id: answer for job_id, answer in answers.items() if answer is not None}


async def _refs(pool: asyncpg.Pool, n: int) -> None:
    async with pool.acquire() as conn:
        for ref in range(1, n + 1):
            await jobs.enqueue_for_ref(conn, "test", ref)


async def _rows(pool: asyncpg.Pool) -> dict[int, asyncpg.Record]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT ref_id, run_at, claim_id, claimed_by, attempts, last_error, now() AS now"
            " FROM jobs WHERE kind = 'test'"
        )
    return {row["ref_id"]: row for row in rows}


async def _run_until_settled(pool: asyncpg.Pool, stage: BatchRecorder) -> ClaimLoop:
    """Run one loop until every job it claimed is settled (handled), then stop it."""
    stop = asyncio.Event()
    loop = ClaimLoop(pool, stage, CONFIG, stop)
    task = asyncio.create_task(loop.run())

    async def settled() -> None:
        while not stage.batches or loop.handled < sum(len(b) for b in stage.batches):
            await asyncio.sleep(0.01)  # polling an observable condition with a deadline

    try:
        await asyncio.wait_for(settled(), 10)
    finally:
        stop.set()
        await task
    return loop


def _mixed(job: Job) -> Outcome | BaseException | None:
    ref = job.ref_id
    if ref == 1:
        return Done()
    if ref == 2:
        return RunAgainAt(LATER)
    if ref == 3:
        return RetryAfter(timedelta(minutes=5), "TimeoutError: peer slow")
    if ref == 4:
        return OSError("connection reset")  # a job's own failure, retried with backoff
    return None  # ref 5: the stage forgot it; retried rather than lost


async def test_a_batch_with_mixed_outcomes_is_claimed_once_and_saved_per_kind(
    pool: asyncpg.Pool,
) -> None:
    await _refs(pool, 5)
    stage = BatchRecorder(_mixed)
    await _run_until_settled(pool, stage)
    rows = await _rows(pool)
    assert stage.batches == [[1, 2, 3, 4, 5]]  # one claim, one batch
    assert 1 not in rows  # done: deleted
    assert rows[2]["run_at"] == LATER and rows[2]["attempts"] == 0
    assert rows[3]["last_error"] == "TimeoutError: peer slow"
    assert rows[3]["run_at"] - rows[3]["now"] > timedelta(minutes=4)
    assert rows[4]["last_error"] == "OSError: connection reset"
    assert rows[4]["run_at"] - rows[4]["now"] > timedelta(seconds=50)  # backoff: retry_base
    assert rows[5]["last_error"].startswith("LookupError")
    assert all(rows[r]["claim_id"] is None for r in (2, 3, 4, 5))  # every lease released


async def test_a_whole_batch_failing_retries_every_job(pool: asyncpg.Pool) -> None:
    await _refs(pool, 3)

    def boom(_job: Job) -> Outcome | BaseException | None:
        raise RuntimeError("a bug in the stage")

    await _run_until_settled(pool, BatchRecorder(boom))
    rows = await _rows(pool)
    assert sorted(rows) == [1, 2, 3]
    assert all(r["last_error"] == "RuntimeError: a bug in the stage" for r in rows.values())
    assert all(r["run_at"] > r["now"] for r in rows.values())


async def test_a_lease_lost_in_a_batch_is_not_overwritten(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    await _refs(pool, 3)
    thief_claim: list[int] = []

    async def taken_over(batch: list[Job]) -> None:
        # Ref 2's lease ran out and another worker claimed it while this one was working.
        [victim] = [j for j in batch if j.ref_id == 2]
        async with pool.acquire() as conn:
            claim = await conn.fetchval(
                "UPDATE jobs SET claim_id = nextval('job_claims'), claimed_by = 'thief',"
                " run_at = $2 WHERE id = $1 RETURNING claim_id",
                victim.id,
                LATER,
            )
        thief_claim.append(claim)

    stage = BatchRecorder(lambda _j: RunAgainAt(datetime.now(UTC)), taken_over)
    with caplog.at_level(logging.WARNING, logger="service.workers.loop"):
        await _run_until_settled(pool, stage)
    rows = await _rows(pool)
    assert rows[2]["claim_id"] == thief_claim[0] and rows[2]["claimed_by"] == "thief"
    assert rows[2]["run_at"] == LATER  # the new holder's lease, untouched
    assert rows[1]["claim_id"] is None and rows[3]["claim_id"] is None
    lost = [r.getMessage() for r in caplog.records if "lease lost" in r.getMessage()]
    assert len(lost) == 1


async def test_a_request_made_during_a_batch_runs_again_after_it(pool: asyncpg.Pool) -> None:
    await _refs(pool, 2)

    async def hoster_answers(_batch: list[Job]) -> None:
        async with pool.acquire() as conn:  # e.g. "removed" on the ack page, for ref 1
            await jobs.enqueue_for_ref(conn, "test", 1)

    stage = BatchRecorder(lambda _j: Done(), hoster_answers)
    await _run_until_settled(pool, stage)
    rows = await _rows(pool)
    assert sorted(rows) == [1]  # ref 2 finished and deleted; ref 1 kept for the new request
    assert rows[1]["claim_id"] is None and rows[1]["run_at"] <= rows[1]["now"]


async def test_batched_outcomes_check_the_claim(pool: asyncpg.Pool) -> None:
    await _refs(pool, 2)
    async with pool.acquire() as conn:
        claimed = await jobs.claim(conn, "test", 5, "w", timedelta(seconds=30))
        stale = [Job(j.id, j.kind, j.case_id, j.ref_id, j.claim_id + 1000, 1) for j in claimed]
        assert await jobs.finish_many(conn, stale) == set()
        assert await jobs.reschedule_many(conn, [(j, LATER) for j in stale]) == set()
        assert await jobs.retry_many(conn, [(j, timedelta(1), "x") for j in stale]) == set()
        assert await jobs.reschedule_many(conn, [(j, LATER) for j in claimed]) == {
            j.id for j in claimed
        }
