"""The gathering window bounds a case's wait from when it became ready, not from when the
outbox got to it: a notice is due the window after its earliest item's resolution. A case
resolved later joins the open notice (even one already due) instead of opening a window of
its own; a desk gets a new notice only once the previous one has left."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from service.notify.outbox import place_cases
from service.settings import Settings
from tests.conftest import make_settings
from tests.integration.notify.conftest import add_case

DESK = [{"address": "abuse@desk.example"}]
WINDOW = timedelta(minutes=10)


def _settings(db_url: str) -> Settings:
    return make_settings(db_url, notice_gather_window=WINDOW)


async def _resolved(conn: asyncpg.Connection, url: str, ago: timedelta) -> tuple[int, datetime]:
    case_id = await add_case(conn, url, DESK)
    resolved_at: datetime = await conn.fetchval(
        "UPDATE cases SET resolved_at = now() - $2::interval, received_at = now() - interval"
        " '1 day' WHERE id = $1 RETURNING resolved_at",
        case_id,
        ago,
    )
    return case_id, resolved_at


async def _notify_job_due(conn: asyncpg.Connection, notice_id: int | None) -> datetime:
    due: datetime = await conn.fetchval(
        "SELECT run_at FROM jobs WHERE kind = 'notify' AND ref_id = $1", notice_id
    )
    return due


async def test_a_case_placed_late_waits_the_window_from_its_resolution(
    db_url: str, pool: asyncpg.Pool
) -> None:
    settings = _settings(db_url)
    async with pool.acquire() as conn:
        # the outbox was 4 minutes behind: the case waits 6 more, not 10
        case_id, resolved_at = await _resolved(conn, "http://a.example/1.png", timedelta(minutes=4))
        placed = (await place_cases(conn, settings, [case_id]))[case_id]
        assert placed.due_at == resolved_at + WINDOW
        assert await _notify_job_due(conn, placed.notice_id) == resolved_at + WINDOW


async def test_a_case_resolved_late_in_a_burst_joins_the_notice_already_due(
    db_url: str, pool: asyncpg.Pool
) -> None:
    settings = _settings(db_url)
    async with pool.acquire() as conn:
        early, early_at = await _resolved(conn, "http://a.example/1.png", timedelta(minutes=12))
        first = (await place_cases(conn, settings, [early]))[early]
        late, _ = await _resolved(conn, "http://a.example/2.png", timedelta(seconds=1))
        joined = (await place_cases(conn, settings, [late]))[late]
        # one mail for both, due when the first case's window ended (already past)
        assert joined.notice_id == first.notice_id
        assert joined.due_at == early_at + WINDOW < datetime.now(early_at.tzinfo)
        assert await _notify_job_due(conn, first.notice_id) == early_at + WINDOW


async def test_a_case_resolved_while_the_desks_notice_leaves_opens_the_next_window(
    db_url: str, pool: asyncpg.Pool
) -> None:
    settings = _settings(db_url)
    async with pool.acquire() as conn:
        early, _ = await _resolved(conn, "http://a.example/1.png", timedelta(minutes=12))
        first = (await place_cases(conn, settings, [early]))[early]
        await conn.execute(
            "UPDATE notices SET state = 'sending', sealed_at = now() WHERE id = $1",
            first.notice_id,
        )
        late, late_at = await _resolved(conn, "http://a.example/2.png", timedelta(seconds=1))
        nxt = (await place_cases(conn, settings, [late]))[late]
        # the desk is not mailed again at once: the next notice gathers for a window
        assert nxt.notice_id != first.notice_id
        assert nxt.due_at == late_at + WINDOW
