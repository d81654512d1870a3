"""Retention: long-closed cases lose their URL, keep hashes, clocks, routing and chain."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from service.db.audit import verify_chains
from service.usecases.retention import purge_closed_cases
from tests.integration.cli_runner import takedown
from tests.integration.ops.cases import make_cases


async def _close(pool: asyncpg.Pool, removed: int, unresolved: int, fresh: int, busy: int) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE cases SET state = 'removed', first_gone_at = now() - interval '41 days',"
            " removed_at = now() - interval '40 days' WHERE id = ANY($1::bigint[])",
            [removed, fresh, busy],
        )
        await conn.execute(
            "UPDATE cases SET removed_at = now() - interval '1 day',"
            " first_gone_at = now() - interval '2 days' WHERE id = $1",
            fresh,
        )
        await conn.execute(
            "UPDATE cases SET state = 'unresolved', updated_at = now() - interval"
            " '60 days' WHERE id = $1",
            unresolved,
        )
        await conn.execute("DELETE FROM jobs WHERE case_id <> $1", busy)  # busy: still watched


async def test_purge_keeps_statistics_and_the_audit_chain(pool: asyncpg.Pool) -> None:
    removed, unresolved, fresh, busy, open_case = await make_cases(pool, 5)
    await _close(pool, removed, unresolved, fresh, busy)
    result = await purge_closed_cases(pool, timedelta(days=30))
    async with pool.acquire() as conn:
        rows = {r["id"]: r for r in await conn.fetch("SELECT * FROM cases")}
        kinds = await conn.fetch("SELECT case_id, kind FROM case_events ORDER BY id")
        audit = await verify_chains(conn)
    assert result.purged == 2 and result.events_quoting_url == {}
    for case_id in (removed, unresolved):
        assert rows[case_id]["url"] == f"https://purged.invalid/{case_id}"
        assert rows[case_id]["host"] == "purged.invalid"
        assert rows[case_id]["sha256"] and rows[case_id]["detected_at"]
    assert rows[removed]["removed_at"] is not None
    for case_id in (fresh, busy, open_case):
        assert rows[case_id]["url"].startswith("http://files")
    assert {(r["case_id"], r["kind"]) for r in kinds if r["kind"] == "retention_purge"} == {
        (removed, "retention_purge"),
        (unresolved, "retention_purge"),
    }
    assert audit.ok


async def test_cli_purge_uses_the_setting_and_is_idempotent(
    db_url: str, pool: asyncpg.Pool
) -> None:
    removed, unresolved, fresh, busy = await make_cases(pool, 4)
    await _close(pool, removed, unresolved, fresh, busy)
    env = {"TAKEDOWN_RETENTION_DAYS": "30"}
    first = await takedown("retention", "purge", db_url=db_url, env=env)
    again = await takedown("retention", "purge", "--older-than", "30", db_url=db_url)
    assert first.code == 0 and "purged the URLs of 2 cases" in first.out
    assert again.code == 0 and "purged the URLs of 0 cases" in again.out
