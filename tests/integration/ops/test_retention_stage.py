"""TAKEDOWN_RETENTION_DAYS works on its own: the escalate stage purges long-closed cases'
URLs hourly; without the setting, a running worker purges nothing (real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from service.db.audit import verify_chains
from tests.conftest import make_settings
from tests.integration.ops.cases import make_cases
from tests.integration.ops.test_retention import _close
from tests.integration.oversight.world import eventually, running_stages


async def _url(pool: asyncpg.Pool, case_id: int) -> str:
    async with pool.acquire() as conn:
        return str(await conn.fetchval("SELECT url FROM cases WHERE id = $1", case_id))


async def _retention_job(pool: asyncpg.Pool) -> asyncpg.Record | None:
    async with pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT run_at, claim_id FROM jobs WHERE kind = 'escalate' AND ref_id = 1"
        )


async def test_worker_purges_closed_cases_when_retention_is_set(
    db_url: str, pool: asyncpg.Pool
) -> None:
    removed, unresolved, fresh, busy = await make_cases(pool, 4)
    await _close(pool, removed, unresolved, fresh, busy)
    settings = make_settings(db_url, retention_days=30)
    async with running_stages(pool, settings, ("escalate",)):
        await eventually(lambda: _purged(pool, removed, unresolved))

        async def rescheduled() -> bool:
            job = await _retention_job(pool)
            return job is not None and job["claim_id"] is None

        await eventually(rescheduled)
    job = await _retention_job(pool)
    assert job is not None
    assert job["run_at"] > datetime.now(UTC) + timedelta(minutes=50)  # next purge in an hour
    for case_id in (fresh, busy):
        assert (await _url(pool, case_id)).startswith("http://files")
    async with pool.acquire() as conn:
        assert (await verify_chains(conn)).ok


async def _purged(pool: asyncpg.Pool, *case_ids: int) -> bool:
    urls = [await _url(pool, case_id) for case_id in case_ids]
    return all(url == f"https://purged.invalid/{case_id}" for url, case_id in zip(urls, case_ids))


async def test_without_the_setting_the_worker_keeps_every_url(
    db_url: str, pool: asyncpg.Pool
) -> None:
    removed, unresolved, fresh, busy = await make_cases(pool, 4)
    await _close(pool, removed, unresolved, fresh, busy)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE jobs SET run_at = now() - interval '1 second' WHERE ref_id = 0")

    async def swept() -> bool:  # the sweep ran and was rescheduled
        async with pool.acquire() as conn:
            return bool(
                await conn.fetchval(
                    "SELECT run_at > now() AND claim_id IS NULL FROM jobs"
                    " WHERE kind = 'escalate' AND ref_id = 0"
                )
            )

    async with running_stages(pool, make_settings(db_url), ("escalate",)):
        await eventually(swept)
    assert await _retention_job(pool) is None
    assert (await _url(pool, removed)).startswith("http://files")
