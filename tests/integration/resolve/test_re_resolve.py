"""A hoster answers "not ours"; the analyst adds a contact-book rule and asks for the case to
be resolved again: the resolve stage (sim DNS and RDAP, real PostgreSQL) routes it to the
rule's address and hands it to the outbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg

from service.db import cases, notify_repo, resolve_repo
from service.domain.states import CaseState
from service.settings import Settings
from service.workers.loop import ClaimLoop, loop_config
from service.workers.resolve_stage import build
from tests.integration.api_client import running_api
from tests.integration.oversight.world import sent_notice
from tests.integration.resolve.conftest import Peers
from tests.integration.resolve.test_resolve_stage import _new_case, _state_becomes

URL = "http://img.pixelbarn.com/i/re-resolve.jpg"
RESELLER = "abuse@reseller.example"


@asynccontextmanager
async def resolve_stage(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[None]:
    """One resolve worker (a fresh one sees the contact book as it is now)."""
    stage = build(pool, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(ClaimLoop(pool, stage, loop_config(settings), stop).run())
    try:
        yield
    finally:
        stop.set()
        await task
        await stage.aclose()


async def _hoster_says_not_ours(pool: asyncpg.Pool, case_id: int) -> None:
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM jobs WHERE case_id = $1", case_id)  # no outbox here
        await cases.transition(
            conn, case_id, CaseState.NOTIFIED, actor="test", stamp="first_notice_at"
        )
        notice_id = await sent_notice(conn, "abuse@pixelbarn.com", [case_id])
        await notify_repo.insert_answer(conn, notice_id, case_id, "not_ours", "a reseller's")


async def test_re_resolve_applies_a_new_contact_rule_to_a_not_ours_case(
    pool: asyncpg.Pool, peers: Peers, db_url: str
) -> None:
    settings = peers.settings(db_url, retry_base=timedelta(milliseconds=100))
    case_id = await _new_case(pool, URL, "img.pixelbarn.com")
    # One worker throughout: its contact-book snapshot predates the rule, so the re-resolve
    # must wait until the snapshot has caught up (CONTACT_BOOK_REFRESH).
    async with resolve_stage(pool, settings):
        assert await _state_becomes(pool, case_id, {"resolved", "unresolved"}) == "resolved"
        await _hoster_says_not_ours(pool, case_id)
        async with pool.acquire() as conn:
            await resolve_repo.add_rule(conn, domain="img.pixelbarn.com", address=RESELLER)
        async with running_api(settings, pool) as api:
            resp = await api.client.post(
                f"/api/v1/oversight/cases/{case_id}/actions",
                headers=api.auth("hotline"),
                json={"action": "re_resolve", "note": "rule for the reseller added"},
            )
            assert resp.status == 200, await resp.text()
            result = (await resp.json())["result"]
        assert (result["from_state"], result["answers_reviewed"]) == ("notified", 1)
        assert await _state_becomes(pool, case_id, {"resolved", "unresolved"}) == "resolved"
    async with pool.acquire() as conn:
        recipients = await conn.fetchval(
            "SELECT recipients FROM case_routes WHERE case_id = $1", case_id
        )
        outbox = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = 'outbox' AND case_id = $1", case_id
        )
        trail = await conn.fetch(
            "SELECT kind, actor, to_state::text FROM case_events WHERE case_id = $1 ORDER BY id",
            case_id,
        )
    assert recipients[0]["address"] == RESELLER and outbox == 1
    steps = [(e["kind"], e["actor"], e["to_state"]) for e in trail][-2:]
    assert steps == [
        ("re_resolve", "hotline:analyst", "resolving"),
        ("resolution", "worker:resolve", "resolved"),
    ]
