"""A hoster hold placed before a case arrives stops it at the outbox, before any batch."""

from __future__ import annotations

import asyncpg

from service.db.jobs import Job
from service.usecases import oversee
from service.workers.outbox_stage import OutboxStage
from tests.conftest import make_settings
from tests.integration.oversight.world import ROUTE, add_case, events, scanner


async def test_a_case_arriving_under_a_hoster_hold_is_held_not_batched(
    db_url: str, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        await oversee.place_hold(
            conn, actor="analyst:alice", reason="police request 7", hoster=ROUTE["hoster"]
        )
        # The case arrives after the hold; no escalation sweep runs in this test.
        case_id = await add_case(conn, sid, "http://img.never-removes.example/new.png", route=ROUTE)
    stage = OutboxStage(pool, make_settings(db_url))
    await stage.handle(
        Job(id=1, kind="outbox", case_id=case_id, ref_id=None, claim_id=1, attempts=1)
    )
    async with pool.acquire() as conn:
        state = await conn.fetchval("SELECT state FROM cases WHERE id = $1", case_id)
        items = await conn.fetchval("SELECT count(*) FROM notice_items WHERE case_id = $1", case_id)
    hold_events = await events(pool, case_id, "hold")
    assert (state, items) == ("held", 0)
    assert hold_events[0]["actor"] == "worker:outbox"
    assert hold_events[0]["detail"]["reason"] == "police request 7"


async def test_a_case_without_a_hold_joins_its_batch(db_url: str, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        case_id = await add_case(
            conn, sid, "http://img.never-removes.example/free.png", route=ROUTE
        )
    stage = OutboxStage(pool, make_settings(db_url))
    await stage.handle(
        Job(id=1, kind="outbox", case_id=case_id, ref_id=None, claim_id=1, attempts=1)
    )
    async with pool.acquire() as conn:
        items = await conn.fetchval("SELECT count(*) FROM notice_items WHERE case_id = $1", case_id)
    assert items == 1
