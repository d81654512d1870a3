"""What the statistics pages and commands read: time-to-removal histograms per hoster, ASN or
country, notice health per group, removals per day, a hoster's contacts, one content hash's
timeline and where content moved after a removal (the waterbed). Reads only: no case changes.

The database sends histograms, never one row per case; the pages turn them into scorecards
(service/domain/scorecard.py) and survival curves (service/domain/stats.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from service.db import notify_repo, oversight_repo
from service.db.notify_repo import ContactHealth
from service.db.oversight_repo import ContentSighting, HosterContact, WaterbedMove
from service.domain.scorecard import GroupHistogram
from service.domain.stats import Histogram


@dataclass(frozen=True)
class StatsData:
    """Everything the statistics page draws, read in one go."""

    groups: list[GroupHistogram]
    overall: Histogram
    notices: dict[str, tuple[int, int]]  # group → (sent, failed or bounced)
    per_day: list[tuple[date, int]]


async def histograms(
    pool: asyncpg.Pool, by: str, now: datetime
) -> tuple[list[GroupHistogram], Histogram]:
    """One time-to-removal histogram per group of `by` and the one over every group,
    open cases censored at `now`."""
    async with pool.acquire() as conn:
        return await oversight_repo.stats_histograms(conn, by, now)


async def stats_data(pool: asyncpg.Pool, by: str, now: datetime) -> StatsData:
    """Histograms, notices per group and removals per day for the statistics page."""
    async with pool.acquire() as conn:
        groups, overall = await oversight_repo.stats_histograms(conn, by, now)
        notices = await oversight_repo.stats_notices(conn, by)
        per_day = await oversight_repo.removals_per_day(conn)
    return StatsData(groups, overall, notices, per_day)


async def hoster_contacts(pool: asyncpg.Pool, hoster: str) -> list[HosterContact]:
    """A hoster's contacts and how each has answered (the hoster page)."""
    async with pool.acquire() as conn:
        return await oversight_repo.hoster_contacts(conn, hoster)


async def content_timeline(pool: asyncpg.Pool, digest: str) -> list[ContentSighting]:
    """Every case of one content hash, oldest first (the content page)."""
    async with pool.acquire() as conn:
        return await oversight_repo.content_timeline(conn, digest)


async def waterbed(pool: asyncpg.Pool) -> list[WaterbedMove]:
    """Where content reappeared after a removal: hoster to hoster, with the median lag."""
    async with pool.acquire() as conn:
        return await oversight_repo.waterbed(conn)


async def contact_health(pool: asyncpg.Pool, limit: int = 1000) -> list[ContactHealth]:
    """Per-address delivery health with the median notice→gone time, for analysts."""
    async with pool.acquire() as conn:
        return await notify_repo.contact_health(conn, limit)
