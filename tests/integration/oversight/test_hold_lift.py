"""Lifting a hold: a case held before its notice goes to the outbox; one held after its notice
went out resumes where it stood, without a second first notice."""

from __future__ import annotations

import asyncpg

from service.db import cases
from service.domain.states import CaseState
from service.usecases import oversee
from tests.integration.oversight.world import ROUTE, add_case, events, scanner


async def _state_and_jobs(pool: asyncpg.Pool, case_id: int) -> tuple[str, set[str]]:
    async with pool.acquire() as conn:
        state = await conn.fetchval("SELECT state FROM cases WHERE id = $1", case_id)
        kinds = await conn.fetch("SELECT kind FROM jobs WHERE case_id = $1", case_id)
    return state, {row["kind"] for row in kinds}


async def _hold_and_lift(pool: asyncpg.Pool, case_id: int) -> dict[str, object]:
    async with pool.acquire() as conn:
        hold = await oversee.place_hold(
            conn, actor="analyst:alice", reason="police request", case_id=case_id
        )
        assert await conn.fetchval("SELECT state FROM cases WHERE id = $1", case_id) == "held"
        lifted = await oversee.lift_hold(conn, hold["id"], actor="analyst:bob")
    assert lifted is not None
    return lifted


async def test_a_case_held_after_its_notice_resumes_its_notice_state(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        case_id = await add_case(conn, sid, "http://img.example/after.png", route=ROUTE)
        await cases.transition(
            conn, case_id, CaseState.NOTIFIED, actor="test", stamp="first_notice_at"
        )
        await cases.transition(conn, case_id, CaseState.ACKNOWLEDGED, actor="test")

    lifted = await _hold_and_lift(pool, case_id)

    assert lifted["cases_released"] == 1
    state, job_kinds = await _state_and_jobs(pool, case_id)
    assert state == "acknowledged"
    assert "outbox" not in job_kinds  # no second first notice
    [event] = await events(pool, case_id, "hold_lifted")
    assert (event["to_state"], event["actor"]) == ("acknowledged", "analyst:bob")


async def test_a_case_held_before_any_notice_goes_to_the_outbox(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        case_id = await add_case(conn, sid, "http://img.example/before.png", route=ROUTE)

    await _hold_and_lift(pool, case_id)

    state, job_kinds = await _state_and_jobs(pool, case_id)
    assert state == "resolved"
    assert "outbox" in job_kinds
