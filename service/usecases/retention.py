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

from service.db import retention as retention_repo
from service.db.cases import add_event

PURGED_HOST = retention_repo.PURGED_HOST
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
            ids = await retention_repo.candidates(conn, cutoff, _BATCH)
            if not ids:
                return result
            await _purge(conn, ids, older_than, result)


async def _purge(
    conn: asyncpg.Connection, ids: list[int], older_than: timedelta, result: PurgeResult
) -> None:
    result.mails_cleared += await retention_repo.clear_mail(conn, ids)
    for case_id, old_url in await retention_repo.purge_urls(conn, ids):
        quoting = await retention_repo.events_mentioning(conn, case_id, old_url)
        if quoting:
            result.events_quoting_url[case_id] = quoting
        await add_event(
            conn,
            case_id,
            actor=ACTOR,
            kind="retention_purge",
            detail={"older_than_days": older_than.days},
        )
        result.purged += 1
