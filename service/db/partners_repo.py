"""Partner hotlines' instances: hand-overs (forwards) and outcome feeds (queries/partners.sql)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

import asyncpg

from service.db.queries import q

Row = dict[str, Any]
STAMPABLE = frozenset({"first_notice_at", "acknowledged_at", "first_gone_at", "reappeared_at"})


async def set_hotline(conn: asyncpg.Connection, country: str, **values: Any) -> None:
    await conn.execute(
        q("partners_set_hotline"),
        country.upper(),
        values["name"],
        values.get("address"),
        values.get("language"),
        values["policy"],
        values.get("url"),
        values.get("token"),
    )


async def divertable(conn: asyncpg.Connection, case_ids: list[int]) -> list[Row]:
    return [dict(r) for r in await conn.fetch(q("partners_divertable"), sorted(set(case_ids)))]


async def open_forward(conn: asyncpg.Connection, case_id: int, country: str, url: str) -> None:
    await conn.execute(q("partners_open_forward"), case_id, country, url)


class ForwardToSubmit(TypedDict):
    """A hand-over with what the partner's intake needs; the partner's columns are None when
    its hotline row is gone."""

    case_id: int
    country: str
    state: str
    created_at: datetime
    attempts: int
    url: str
    token: str | None
    still_forward: bool | None
    partner_name: str | None
    partner_case_id: int | None
    withdrawn_at: datetime | None
    withdrawal_error: str | None
    case_state: str
    url_original: str
    case_url: str
    sha256: str | None
    sha1: str | None
    md5: str | None
    pdq: str | None
    media_type: str
    detected_at: datetime
    classification: str | None


class ForwardPartner(TypedDict):
    """A partner we hand cases to, and where we are in its feed."""

    country: str
    name: str
    url: str | None
    token: str | None
    cursor: str | None
    failing_since: datetime | None


async def forward_for_submit(conn: asyncpg.Connection, case_id: int) -> ForwardToSubmit | None:
    row = await conn.fetchrow(q("partners_forward_for_submit"), case_id)
    return cast(ForwardToSubmit, dict(row)) if row else None


async def submitted(conn: asyncpg.Connection, case_id: int, partner_case_id: int) -> bool:
    return await conn.execute(q("partners_submitted"), case_id, partner_case_id) == "UPDATE 1"


async def submitted_among(conn: asyncpg.Connection, case_ids: list[int]) -> list[int]:
    """Of `case_ids`, those a partner took and has not been told of a withdrawal of."""
    return [r["case_id"] for r in await conn.fetch(q("partners_submitted_among"), case_ids)]


async def withdrawn(conn: asyncpg.Connection, case_id: int, refusal: str | None) -> bool:
    """The partner was told of the withdrawal (refusal: why it would not take it, or None)."""
    return await conn.fetchval(q("partners_withdrawn"), case_id, refusal) is not None


async def attempt_failed(
    conn: asyncpg.Connection, case_id: int, error: str, fallback_after: timedelta
) -> bool:
    """Record a failed attempt; True when the hand-over is overdue for the fallback."""
    overdue = await conn.fetchval(
        q("partners_attempt_failed"), case_id, error[:500], fallback_after
    )
    return bool(overdue)


async def fall_back(conn: asyncpg.Connection, case_ids: list[int], reason: str) -> None:
    await conn.execute(q("partners_fall_back"), sorted(case_ids), reason[:500])


async def forward_partners(conn: asyncpg.Connection) -> list[ForwardPartner]:
    return [cast(ForwardPartner, dict(r)) for r in await conn.fetch(q("partners_forward_partners"))]


async def feed_read(conn: asyncpg.Connection, country: str, cursor: str) -> None:
    await conn.execute(q("partners_feed_read"), country, cursor)


async def feed_failed(
    conn: asyncpg.Connection, country: str, error: str, fallback_after: timedelta
) -> bool:
    """Record a failed poll; True when the feed has been failing for the fallback delay."""
    overdue = await conn.fetchval(q("partners_feed_failed"), country, error[:500], fallback_after)
    return bool(overdue)


async def case_of(conn: asyncpg.Connection, country: str, partner_case_id: int) -> Row | None:
    row = await conn.fetchrow(q("partners_case_of"), country, partner_case_id)
    return dict(row) if row else None


async def forwarded_of(conn: asyncpg.Connection, country: str) -> list[int]:
    return [r["id"] for r in await conn.fetch(q("partners_forwarded_of"), country)]


async def stamp(conn: asyncpg.Connection, case_id: int, column: str, at: datetime) -> None:
    """Set a clock column to the partner's time, unless it is set already."""
    if column not in STAMPABLE:
        raise ValueError(f"not a stampable clock column: {column!r}")
    await conn.execute(q("partners_stamp").replace("{column}", column), case_id, at)
