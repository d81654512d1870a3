"""What the statistics pages and commands read: time-to-removal histograms per hoster, ASN or
country, notice health per group, removals per day, a hoster's contacts, one content hash's
timeline and where content moved after a removal (the waterbed). Reads only: no case changes.

The database sends histograms, never one row per case; the pages turn them into scorecards
(service/domain/scorecard.py) and survival curves (service/domain/stats.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from service.db import notify_repo, oversight_repo
from service.db.notify_repo import ContactHealth
from service.db.oversight_repo import ContentSighting, HosterContact, WaterbedMove
from service.domain.scorecard import GroupHistogram
from service.domain.stats import Histogram

EVERY_GROUP = 2**62  # a page size no table reaches


@dataclass(frozen=True)
class StatsData:
    """Everything the statistics page draws, read in one go: one page of groups (most notified
    cases first), the curve over every group and removals per day."""

    groups: list[GroupHistogram]
    overall: Histogram
    notices: dict[str, tuple[int, int]]  # group → (sent, failed or bounced)
    per_day: list[tuple[date, int]]
    groups_total: int = 0  # groups with notified cases, on every page together


async def histograms(
    pool: asyncpg.Pool, by: str, now: datetime
) -> tuple[list[GroupHistogram], Histogram]:
    """One time-to-removal histogram per group of `by` and the one over every group,
    open cases censored at `now`."""
    async with pool.acquire() as conn:
        return await oversight_repo.stats_histograms(conn, by, now)


async def stats_data(
    pool: asyncpg.Pool, by: str, now: datetime, limit: int = 100, offset: int = 0
) -> StatsData:
    """The page's groups' histograms and notices, the curve over every group and removals per
    day: `limit` groups after the first `offset`, most notified cases first."""
    async with pool.acquire() as conn:
        names, total = await oversight_repo.stats_group_page(conn, by, limit, offset)
        if by == oversight_repo.OVERALL_DIMENSION:  # the curve's query has every group's
            every, overall = await oversight_repo.stats_histograms(conn, by, now)
            wanted = {name if name is not None else "unknown" for name in names}
            groups = [g for g in every if g.tallies.group in wanted]
        else:
            groups = await oversight_repo.stats_histograms_of(conn, by, now, names)
            overall = await oversight_repo.stats_overall(conn, now)
        notices = await oversight_repo.stats_notices(conn, by)
        per_day = await oversight_repo.removals_per_day(conn)
    return StatsData(groups, overall, notices, per_day, total)


async def group_pages(
    pool: asyncpg.Pool, by: str, now: datetime, size: int = 500
) -> AsyncIterator[tuple[list[GroupHistogram], dict[str, tuple[int, int]]]]:
    """Every group's histogram, `size` groups at a time (the CSV export), with the notices
    per group. The group names are read once up front (one short row per group), so a group
    whose rank changes during the export is still listed exactly once."""
    async with pool.acquire() as conn:
        names, _total = await oversight_repo.stats_group_page(conn, by, EVERY_GROUP, 0)
        notices = await oversight_repo.stats_notices(conn, by)
    for start in range(0, len(names), size):
        async with pool.acquire() as conn:
            page = names[start : start + size]
            yield await oversight_repo.stats_histograms_of(conn, by, now, page), notices


async def hoster_histogram(pool: asyncpg.Pool, name: str, now: datetime) -> GroupHistogram | None:
    """One hoster's histogram (the hoster page), found by its name in any letter case."""
    async with pool.acquire() as conn:
        group = await oversight_repo.stats_group_named(conn, "hoster", name)
        if group is None:
            return None
        found = await oversight_repo.stats_histograms_of(conn, "hoster", now, [group])
    return found[0] if found else None


async def group_notices(pool: asyncpg.Pool, by: str) -> dict[str, tuple[int, int]]:
    """Notices about notified cases per group of `by`: (sent, failed or bounced)."""
    async with pool.acquire() as conn:
        return await oversight_repo.stats_notices(conn, by)


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
