"""The 'resolve' stage driven through the jobs table with real PostgreSQL and the sim peers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from service.db import jobs
from service.workers.loop import ClaimLoop, loop_config
from service.workers.resolve_stage import build
from tests.integration.resolve.conftest import Peers


async def _new_case(pool: asyncpg.Pool, url: str, host: str) -> int:
    async with pool.acquire() as conn:
        token = await conn.fetchval(
            "INSERT INTO tokens (name, role, secret_sha256) VALUES ($1, 'scanner', $2)"
            " ON CONFLICT DO NOTHING RETURNING id",
            "scanner",
            b"s" * 32,
        ) or await conn.fetchval("SELECT id FROM tokens WHERE name = 'scanner'")
        case_id: int = await conn.fetchval(
            "INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id,"
            " source_ref, detected_at) VALUES ($1, $1, $2, $3, 'image/jpeg', $4, 'r', now())"
            " RETURNING id",
            url,
            host,
            f"{abs(hash(url)):064x}"[-64:],
            token,
        )
        await jobs.enqueue_for_case(conn, "resolve", case_id)
    return case_id


async def _state_becomes(pool: asyncpg.Pool, case_id: int, wanted: set[str]) -> str:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        async with pool.acquire() as conn:
            state = await conn.fetchval("SELECT state::text FROM cases WHERE id = $1", case_id)
        if state in wanted:
            return str(state)
        await asyncio.sleep(0.05)  # polling an observable condition, with a deadline
    raise AssertionError(f"case {case_id} stayed {state}")


@pytest.fixture
async def running(pool: asyncpg.Pool, peers: Peers, db_url: str) -> AsyncIterator[Any]:
    settings = peers.settings(db_url, retry_base=timedelta(milliseconds=100))
    stage = build(pool, settings)
    stop = asyncio.Event()
    task = asyncio.create_task(ClaimLoop(pool, stage, loop_config(settings), stop).run())
    try:
        yield stage
    finally:
        stop.set()
        await task
        await stage.aclose()


async def test_received_case_is_resolved_routed_and_handed_to_outbox(
    pool: asyncpg.Pool, running: Any
) -> None:
    case_id = await _new_case(pool, "http://img.pixelbarn.com/i/7f3a9c.jpg", "img.pixelbarn.com")
    assert await _state_becomes(pool, case_id, {"resolved", "unresolved"}) == "resolved"
    async with pool.acquire() as conn:
        route = await conn.fetchrow("SELECT * FROM case_routes WHERE case_id = $1", case_id)
        stamped = await conn.fetchval("SELECT resolved_at FROM cases WHERE id = $1", case_id)
        outbox = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = 'outbox' AND case_id = $1", case_id
        )
        events = await conn.fetch(
            "SELECT kind, to_state::text, detail FROM case_events WHERE case_id = $1 ORDER BY id",
            case_id,
        )
    assert route["recipients"][0]["address"] == "abuse@pixelbarn.com"
    assert route["hoster"] == "PixelBarn Hosting, Inc." and stamped is not None
    assert outbox == 1
    decision = next(e for e in events if e["kind"] == "resolution")
    assert decision["to_state"] == "resolved"
    assert decision["detail"]["rdap_contacts"][0]["address"] == "abuse@pixelbarn.com"


async def test_nxdomain_case_is_unresolved_with_reason(pool: asyncpg.Pool, running: Any) -> None:
    case_id = await _new_case(pool, "http://missing.pixelbarn.com/a.jpg", "missing.pixelbarn.com")
    assert await _state_becomes(pool, case_id, {"resolved", "unresolved"}) == "unresolved"
    async with pool.acquire() as conn:
        reason = await conn.fetchval(
            "SELECT no_contact_reason FROM case_routes WHERE case_id = $1", case_id
        )
        outbox = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'outbox'")
    assert reason.startswith("NXDOMAIN") and outbox == 0


async def test_transient_failure_keeps_the_case_retryable_until_it_resolves(
    pool: asyncpg.Pool, peers: Peers, running: Any
) -> None:
    peers.dns.faults.set("files.tulpnet.nl", "servfail", count=4)  # A and AAAA, twice
    case_id = await _new_case(pool, "http://files.tulpnet.nl/f.jpg", "files.tulpnet.nl")
    assert await _state_becomes(pool, case_id, {"resolved", "unresolved"}) == "resolved"
    async with pool.acquire() as conn:
        kinds = [
            r["kind"]
            for r in await conn.fetch(
                "SELECT kind FROM case_events WHERE case_id = $1 ORDER BY id", case_id
            )
        ]
    assert kinds.count("resolution_deferred") >= 1
    assert "unresolved" not in kinds
