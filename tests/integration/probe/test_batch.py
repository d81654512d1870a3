"""The probe stage's batch path (the claim loop's fast path): one batch with every kind of
outcome ends exactly as single checks would, and a case that moves while it is being checked
is recorded against its new state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta
from typing import Any

import asyncpg

from service.db.jobs import Job
from service.probe.runner import LocalProbe, ProbeResult
from service.settings import Settings
from service.workers.loop import ClaimLoop, Outcome, loop_config
from service.workers.probe_stage import ProbeStage
from tests.conftest import make_settings
from tests.integration.probe.cases import FAST, case_row, notified_case, verdicts, wait_for
from tests.integration.probe.conftest import Web
from tests.integration.probe.peers import expected_hashes

# One check per case and then nothing due for an hour (or a day after a removal).
ONE_ROUND = FAST | {
    "recheck_dense_interval": timedelta(hours=1),
    "watch_after_removal": [timedelta(days=1)],
    "worker_batch": 10,
}


class CountingStage(ProbeStage):
    """The probe stage, remembering the size of each batch it was handed."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, **kw: Any) -> None:
        super().__init__(pool, settings, **kw)
        self.batches: list[int] = []

    def handle_stream(
        self, jobs: list[Job]
    ) -> AsyncGenerator[dict[int, Outcome | BaseException], None]:
        self.batches.append(len(jobs))
        return super().handle_stream(jobs)


async def _run_once(pool: asyncpg.Pool, stage: ProbeStage, settings: Settings, n: int) -> None:
    """One claim loop until `n` jobs are handled."""
    stop = asyncio.Event()
    loop = ClaimLoop(pool, stage, loop_config(settings), stop)
    task = asyncio.create_task(loop.run())

    async def handled() -> bool:
        return loop.handled >= n

    try:
        await wait_for(handled)
    finally:
        stop.set()
        await task


async def _job(pool: asyncpg.Pool, case_id: int) -> dict[str, Any] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT run_at - now() AS due_in, claim_id FROM jobs WHERE case_id = $1", case_id
        )
    return dict(row) if row else None


async def _tracking(pool: asyncpg.Pool, case_id: int) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM probe_tracking WHERE case_id = $1", case_id)
    return dict(row) if row else {}


async def _to_states(pool: asyncpg.Pool, case_id: int) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT to_state FROM case_events WHERE case_id = $1 AND to_state IS NOT NULL"
            " ORDER BY id",
            case_id,
        )
    return [r["to_state"] for r in rows]


async def _pending_with_streak(pool: asyncpg.Pool, url: str) -> int:
    """A case in gone_pending whose streak began an hour ago with one gone check."""
    case_id = await notified_case(
        pool, url, expected_hashes(), state="gone_pending", noticed_ago=timedelta(hours=2)
    )
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO probe_tracking (case_id, streak_started_at, streak_last_gone,"
            " streak_count, resume_state) VALUES ($1, now() - interval '1 hour',"
            " now() - interval '1 hour', 1, 'notified')",
            case_id,
        )
    return case_id


async def test_one_batch_with_every_outcome(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    present = await notified_case(pool, web_origin.url("image"), expected_hashes())
    first_gone = await notified_case(pool, web_origin.url("404/b"), expected_hashes())
    confirming = await _pending_with_streak(pool, web_origin.url("410/c"))
    flaky = await notified_case(pool, web_origin.url("500/d"), expected_hashes())
    closed = await notified_case(
        pool, web_origin.url("image/e"), expected_hashes(), state="resolved"
    )
    settings = make_settings(db_url, **ONE_ROUND)
    stage = CountingStage(pool, settings)
    await _run_once(pool, stage, settings, 5)

    assert stage.batches == [5]  # one claim, one load, one batch
    assert await verdicts(pool, present) == ["present"]
    assert (await case_row(pool, present))["state"] == "notified"
    assert (await case_row(pool, present))["last_seen_at"] is not None

    assert await verdicts(pool, first_gone) == ["gone"]
    assert await _to_states(pool, first_gone) == ["gone_pending"]
    streak = await _tracking(pool, first_gone)
    assert (streak["streak_count"], streak["resume_state"]) == (1, "notified")

    case = await case_row(pool, confirming)
    assert case["state"] == "removed" and await verdicts(pool, confirming) == ["gone"]
    assert case["first_gone_at"] == (await _tracking(pool, confirming))["streak_started_at"]
    assert case["removed_at"] - case["first_gone_at"] >= timedelta(minutes=59)

    assert await verdicts(pool, flaky) == ["inconclusive"]
    assert (await case_row(pool, flaky))["state"] == "notified"
    assert (await _tracking(pool, flaky)).get("streak_count", 0) == 0

    assert await verdicts(pool, closed) == [] and await _job(pool, closed) is None
    for case_id in (present, first_gone, flaky):
        job = await _job(pool, case_id)
        assert job and job["claim_id"] is None and job["due_in"] > timedelta(minutes=50)
    watch = await _job(pool, confirming)
    assert watch and watch["due_in"] > timedelta(hours=23)  # the first recidivism watch


class AcknowledgedMidCheck:
    """A prober during whose check the hoster acknowledges the notice (state moves)."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.inner = LocalProbe(settings)

    def hold(self) -> Any:
        return self.inner.hold()

    async def close(self) -> None:
        await self.inner.close()

    async def check(self, url: str, expected: Mapping[str, str]) -> ProbeResult:
        report = await self.inner.check(url, expected)
        async with self.pool.acquire() as conn:
            await conn.execute(
                "UPDATE cases SET state = 'acknowledged' WHERE url = $1 AND state = 'notified'",
                url,
            )
        return report


async def test_a_case_that_moves_during_its_check_is_recorded_in_its_new_state(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    moving = await notified_case(pool, web_origin.url("image"), expected_hashes())
    settings = make_settings(db_url, **ONE_ROUND)
    stage = ProbeStage(pool, settings, prober=AcknowledgedMidCheck(pool, settings))
    await _run_once(pool, stage, settings, 1)
    async with pool.acquire() as conn:
        check = await conn.fetchrow(
            "SELECT verdict, state_before, state_after FROM checks WHERE case_id = $1", moving
        )
    assert dict(check) == {
        "verdict": "present", "state_before": "acknowledged", "state_after": "acknowledged",
    }  # fmt: skip
    assert (await case_row(pool, moving))["state"] == "acknowledged"


class LeaseTakenMidCheck(AcknowledgedMidCheck):
    """A prober during whose check another worker takes the job over (its lease ran out)."""

    async def check(self, url: str, expected: Mapping[str, str]) -> ProbeResult:
        report = await self.inner.check(url, expected)
        async with self.pool.acquire() as conn:
            await conn.execute(
                "UPDATE jobs SET claim_id = nextval('job_claims'), claimed_by = 'other'"
                " WHERE case_id = (SELECT id FROM cases WHERE url = $1)",
                url,
            )
        return report


async def test_a_quiet_check_whose_lease_was_lost_leaves_the_job_to_its_new_holder(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    case_id = await notified_case(pool, web_origin.url("image"), expected_hashes())
    settings = make_settings(db_url, **ONE_ROUND)
    stage = ProbeStage(pool, settings, prober=LeaseTakenMidCheck(pool, settings))
    await _run_once(pool, stage, settings, 1)
    assert await verdicts(pool, case_id) == ["present"]  # what was seen is kept
    async with pool.acquire() as conn:
        job = await conn.fetchrow(
            "SELECT claimed_by, run_at - now() AS due_in FROM jobs WHERE case_id = $1", case_id
        )
    # Not rescheduled an hour ahead by the worker that lost it: still the new holder's.
    assert job["claimed_by"] == "other" and job["due_in"] < timedelta(minutes=10)
