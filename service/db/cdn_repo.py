"""Storage of reports filed through CDN abuse-report APIs; one function per query."""

from __future__ import annotations

from typing import Any, TypedDict, cast

import asyncpg

from service.db.queries import q


class CdnChannelSummary(TypedDict):
    """Reports filed through one CDN channel: how many, read back, origin told, origin named."""

    channel: str
    filed: int
    read: int
    origin_notified: int
    origin_named: int


async def case_for_report(conn: asyncpg.Connection, case_id: int) -> dict[str, Any] | None:
    """The case, its route's CDN and its last filed report; the case row locked."""
    row = await conn.fetchrow(q("cdn_case"), case_id)
    return None if row is None else dict(row)


async def insert_report(
    conn: asyncpg.Connection, case_id: int, channel: str, report_id: str
) -> int:
    row_id: int = await conn.fetchval(q("cdn_insert_report"), case_id, channel, report_id)
    return row_id


async def store_reading(
    conn: asyncpg.Connection,
    row_id: int,
    status: str | None,
    external_host_notified: bool | None,
    origin_host: dict[str, str] | None,
) -> None:
    await conn.execute(q("cdn_read_report"), row_id, status, external_host_notified, origin_host)


async def add_origin_route(
    conn: asyncpg.Connection, case_id: int, hoster: str | None, recipient: dict[str, Any]
) -> int | None:
    """A route of its own for the origin host (None: already a route, or no address known)."""
    position: int | None = await conn.fetchval(
        q("cdn_add_origin_route"), case_id, hoster, [recipient], recipient["address"]
    )
    return position


async def summary(conn: asyncpg.Connection) -> list[CdnChannelSummary]:
    rows = await conn.fetch(q("cdn_reports_summary"))
    return [cast(CdnChannelSummary, dict(r)) for r in rows]
