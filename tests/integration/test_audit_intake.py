"""Intake's 'received' events start each case's audit chain; a second one is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from service.db.audit import verify_chains
from service.db.cases import add_event, ingest_reports
from service.db.tokens import create_token
from service.domain.reports import ValidReport, validate_report


def _valid(n: int) -> ValidReport:
    checked = validate_report(
        n,
        {
            "url": f"http://a{n % 3}.example/{n}.png",
            "hashes": {"sha256": f"{n:064x}"},
            "media_type": "image/png",
            "detected_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "source_ref": f"r{n}",
        },
        now=datetime.now(UTC),
        max_skew=timedelta(minutes=5),
    )
    assert isinstance(checked, ValidReport)
    return checked


async def test_bulk_intake_then_later_events_form_valid_chains(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        token, _ = await create_token(conn, "s", "scanner")
    results = await ingest_reports(
        pool, [_valid(n) for n in range(300)], scanner_id=token.id, actor="scanner:s", via="test"
    )
    async with pool.acquire() as conn:
        for result in results[:20]:
            await add_event(conn, result.case_id, actor="test", kind="note", detail={"n": 1})
        report = await verify_chains(conn)
        firsts = await conn.fetchval(
            "SELECT count(*) FROM case_events WHERE kind = 'received' AND prev_hash IS NULL"
        )
    assert report.ok and report.events == 320
    assert firsts == 300


async def test_a_second_received_event_for_a_case_is_refused(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        token, _ = await create_token(conn, "s", "scanner")
    [result] = await ingest_reports(pool, [_valid(1)], scanner_id=token.id, actor="x", via="test")
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO case_events (case_id, actor, kind, to_state) "
                "VALUES ($1, 'mallory', 'received', 'received')",
                result.case_id,
            )


async def test_a_received_event_with_a_made_up_hash_is_caught_by_verify(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        token, _ = await create_token(conn, "s", "scanner")
        case_id = await conn.fetchval(
            "INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id,"
            " source_ref, detected_at) VALUES ('http://x.example/', 'x', 'x.example', $1,"
            " 'image/png', $2, 'r', now()) RETURNING id",
            "b" * 64,
            token.id,
        )
        await conn.execute(
            "INSERT INTO case_events (id, case_id, actor, kind, to_state, hash)"
            " VALUES (nextval('case_events_id_seq'), $1, 'mallory', 'received', 'received', $2)",
            case_id,
            b"\x00" * 32,
        )
        report = await verify_chains(conn)
    assert not report.ok
    assert report.broken[0].case_id == case_id
