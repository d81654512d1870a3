"""Retention's queries: which closed cases are due, and purging their URLs and mail text.

The rule (what goes, what stays, and why events are never edited) is in
service/usecases/retention.py, which calls these in its transactions.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from service.db.queries import q

PURGED_HOST = "purged.invalid"


async def candidates(conn: asyncpg.Connection, cutoff: datetime, limit: int) -> list[int]:
    """Ids of cases closed before `cutoff` whose URL is still kept."""
    return [r["id"] for r in await conn.fetch(q("audit_retention_candidates"), cutoff, limit)]


async def clear_mail(conn: asyncpg.Connection, ids: list[int]) -> int:
    """Clear the text, subject and attachment metadata of mail about these cases; how many."""
    cleared: int = await conn.fetchval(q("audit_purge_mail"), ids)
    return cleared


async def purge_urls(conn: asyncpg.Connection, ids: list[int]) -> list[tuple[int, str]]:
    """Replace the cases' URLs by the purged marker; (case id, old URL) of each."""
    return [(r["id"], r["old_url"]) for r in await conn.fetch(q("audit_purge_urls"), ids)]


async def events_mentioning(conn: asyncpg.Connection, case_id: int, url: str) -> int:
    """How many of the case's events quote `url` in their detail."""
    count: int = await conn.fetchval(q("audit_events_mentioning"), case_id, url)
    return count
