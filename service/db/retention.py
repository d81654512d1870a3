"""Retention: closed cases keep their statistics but lose their URLs after a while.

What stays: hashes, every timestamp of the clock, state, the routing decision (hoster, ASN,
country in case_routes) and the whole event chain. What goes: the URL, its original
spelling and the host name, replaced by a unique marker `https://purged.invalid/<case id>`,
and the text, subject and attachment metadata of the mail hosters sent about the case (a reply
may quote the URL; that a mail came, when, from whom and its ticket stay).

Why the events are not touched: they are chained by hash (migration 0040) and append-only;
rewriting them would be indistinguishable from tampering. The URL therefore lives only in
`cases`, and a purge is itself recorded as an event (`retention_purge`). Events whose detail
still quotes the URL (a stage should never write one) are counted and reported, not edited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from service.db.cases import add_event
from service.db.queries import q

PURGED_HOST = "purged.invalid"
ACTOR = "system:retention"
_BATCH = 500


@dataclass
class PurgeResult:
    """How many cases lost their URL, and which still have it quoted in an event."""

    purged: int = 0
    mails_cleared: int = 0
    events_quoting_url: dict[int, int] = field(default_factory=dict)


async def purge_closed_cases(
    pool: asyncpg.Pool, older_than: timedelta, *, now: datetime | None = None
) -> PurgeResult:
    """Purge the URLs of cases closed for longer than `older_than`, in batches."""
    cutoff = (now or datetime.now(UTC)) - older_than
    result = PurgeResult()
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(q("audit_retention_candidates"), cutoff, _BATCH)
            ids = [r["id"] for r in rows]
            if not ids:
                return result
            await _purge(conn, ids, older_than, result)


async def _purge(
    conn: asyncpg.Connection, ids: list[int], older_than: timedelta, result: PurgeResult
) -> None:
    result.mails_cleared += await conn.fetchval(q("audit_purge_mail"), ids)
    for row in await conn.fetch(q("audit_purge_urls"), ids):
        quoting = await conn.fetchval(q("audit_events_mentioning"), row["id"], row["old_url"])
        if quoting:
            result.events_quoting_url[row["id"]] = quoting
        await add_event(
            conn,
            row["id"],
            actor=ACTOR,
            kind="retention_purge",
            detail={"older_than_days": older_than.days},
        )
        result.purged += 1
