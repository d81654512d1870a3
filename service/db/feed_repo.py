"""Reading scanner outcomes: the feed page, its horizon, a case's scanner view."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

import asyncpg

from service.db.queries import q

MAX_ID = 2**63 - 1


class FeedRow(TypedDict):
    """A scanner outcome with its feed position (txid as text) and what the item shows."""

    id: int
    txid: str
    case_id: int
    outcome: str
    case_state: str
    reason: str | None
    at: datetime
    url: str
    source_ref: str
    first_gone_at: datetime | None
    removed_at: datetime | None


async def feed_page(
    conn: asyncpg.Connection, scanner_id: int, after: tuple[int, int], limit: int
) -> list[FeedRow]:
    """Up to `limit` outcome rows of the scanner after `after` = (txid, id), in feed order."""
    rows = await conn.fetch(q("feed_page"), scanner_id, str(after[0]), after[1], limit)
    return [cast(FeedRow, dict(r)) for r in rows]


async def feed_horizon(conn: asyncpg.Connection) -> tuple[int, int]:
    """The position past every outcome visible now."""
    horizon = int(await conn.fetchval(q("feed_horizon")))
    return horizon - 1, MAX_ID


async def scanner_case(
    conn: asyncpg.Connection, case_id: int, scanner_id: int
) -> dict[str, Any] | None:
    """The scanner's own case with its outcomes, or None (unknown or someone else's)."""
    row = await conn.fetchrow(q("scanner_case"), case_id, scanner_id)
    if row is None:
        return None
    case = dict(row)
    case["outcomes"] = [dict(r) for r in await conn.fetch(q("scanner_case_outcomes"), case_id)]
    return case
