"""The fast paths of the scale work return what the slow ones did, on generated cases.

The overdue queue's per-allowance index walk against the general query (every page, both
directions, a state filter); the statistics histograms against exact Kaplan–Meier over every
notified case: identical when every duration lies on the bucket grid, within the bucket
width otherwise.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from bench.scale_data import load
from service.db import oversight_repo, probe_repo
from service.db.tokens import create_token
from service.domain.scorecard import (
    Bucket,
    CaseTimes,
    cards_of,
    cards_of_histograms,
    curve_of,
    curve_of_histogram,
    curve_points,
    days_filled,
    removals_per_day,
    scorecards,
)
from service.domain.sla import SlaPolicy
from service.domain.stats import by_hoster, summaries_of

CASES = 3_000
H = timedelta(hours=1)
EXACT_ROWS = """
SELECT c.id, coalesce(r.hoster, c.host) AS hoster, r.asn, r.country, c.detected_at,
       c.first_notice_at, c.first_gone_at, c.removed_at, c.reappeared_at IS NOT NULL AS reappeared
FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
WHERE c.first_notice_at IS NOT NULL
"""
# Every clock stamp on a whole hour: every duration is then on the bucket grid (< 42 days).
ON_THE_HOUR = """
UPDATE cases SET detected_at = date_trunc('hour', detected_at),
                 first_notice_at = date_trunc('hour', first_notice_at),
                 first_gone_at = date_trunc('hour', first_gone_at),
                 removed_at = date_trunc('hour', removed_at)
"""


@pytest.fixture
async def conn(db_url: str) -> Any:
    connection = await asyncpg.connect(db_url)
    token, _ = await create_token(connection, "results-scanner", "scanner")
    await load(connection, CASES, token.id)
    yield connection
    await connection.close()


async def _exact(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(EXACT_ROWS)]


def _times(rows: list[dict[str, Any]], by: str) -> list[CaseTimes]:
    def group(r: dict[str, Any]) -> str:
        return str(r[by] if r[by] is not None else "unknown")

    return [
        CaseTimes(group(r), r["first_notice_at"], r["first_gone_at"], r["reappeared"]) for r in rows
    ]


async def test_statistics_on_the_grid_equal_exact_kaplan_meier(conn: asyncpg.Connection) -> None:
    await conn.execute(ON_THE_HOUR)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + H
    rows = await _exact(conn)
    assert sum(r["first_gone_at"] is None for r in rows) > 100  # open cases are censored
    for by in oversight_repo.STATS_DIMENSIONS:
        buckets = await oversight_repo.stats_buckets(conn, by, now)
        exact = _times(rows, by)
        assert cards_of(buckets) == scorecards(exact, now)
        assert curve_of(buckets) == curve_points(exact, now)
        groups, overall = await oversight_repo.stats_histograms(conn, by, now)
        assert cards_of_histograms(groups) == scorecards(exact, now)
        assert curve_of_histogram(overall) == curve_points(exact, now)
    per_day = days_filled(await oversight_repo.removals_per_day(conn))
    assert per_day == removals_per_day(_times(rows, "hoster"))
    histogram = await probe_repo.stats_rows(conn, now)
    for clock in ("notice", "detection"):
        assert by_hoster(histogram, clock, now) == by_hoster(rows, clock, now)
        hosters, overall = await probe_repo.stats_histograms(conn, now, clock)
        assert summaries_of(hosters, overall) == by_hoster(rows, clock, now)


def _rounded_up(length: timedelta) -> timedelta:
    """The bucket grid of stats_bucket (0091), in Python: the upper edge of the bucket."""
    seconds = length.total_seconds()
    steps = ((3600, 60), (86400, 300), (259200, 900), (3628800, 3600))
    width = next((w for limit, w in steps if seconds <= limit), 86400)
    return timedelta(seconds=math.ceil(max(seconds, 0) / width) * width)


async def test_statistics_off_the_grid_are_km_of_durations_rounded_up_to_the_grid(
    conn: asyncpg.Connection,
) -> None:
    now = datetime.now(UTC)
    rows = await _exact(conn)
    exact = _times(rows, "hoster")
    rounded = [
        Bucket(
            c.group, _rounded_up(d.length), int(d.removed), int(not d.removed), int(c.reappeared)
        )
        for c, d in ((c, c.duration(now)) for c in exact)
    ]
    assert all(
        timedelta(0) <= b.length - c.duration(now).length < timedelta(days=1)
        for b, c in zip(rounded, exact, strict=True)
    )
    fast = cards_of(await oversight_repo.stats_buckets(conn, "hoster", now))
    assert fast == cards_of(rounded)
    groups, overall = await oversight_repo.stats_histograms(conn, "hoster", now)
    assert cards_of_histograms(groups) == fast
    assert curve_of_histogram(overall) == curve_of(rounded)
    truth = {c.group: c for c in scorecards(exact, now)}
    for card in fast:  # what rounding cannot change
        expected = truth[card.group]
        assert (card.items, card.open, card.removed) == (
            expected.items,
            expected.open,
            expected.removed,
        )
        assert card.open_beyond_42d == expected.open_beyond_42d  # 42 days is a bucket edge
        assert card.recidivism == expected.recidivism


async def test_notice_failures_per_group_equal_the_per_case_counts(
    conn: asyncpg.Connection,
) -> None:
    per_case = await oversight_repo.stats_rows(conn)
    for by in oversight_repo.STATS_DIMENSIONS:
        expected: dict[str, tuple[int, int]] = {}
        for r in per_case:
            key = str(r[by] if r[by] is not None else "unknown")
            sent, failed = expected.get(key, (0, 0))
            expected[key] = (sent + r["notices_sent"], failed + r["notices_failed"])
        got = await oversight_repo.stats_notices(conn, by)
        assert {k: v for k, v in got.items() if v != (0, 0)} == {
            k: v for k, v in expected.items() if v != (0, 0)
        }


async def _all_pages(
    conn: asyncpg.Connection,
    sla: SlaPolicy,
    filters: oversight_repo.QueueFilter,
    descending: bool,
    walk: bool,
) -> list[tuple[list[int], tuple[str, int] | None]]:
    pages, after = [], None
    while True:
        if walk:
            page = await oversight_repo.queue(
                conn, "overdue", sla, filters, descending=descending, after=after, limit=37
            )
        else:
            page = await oversight_repo.scan_queue(
                conn, "overdue", sla, filters, "deadline", descending, after, 37
            )
        pages.append(([r["id"] for r in page.rows], page.next_after))
        if page.next_after is None:
            return pages
        after = page.next_after


async def test_overdue_walk_pages_equal_the_general_query(conn: asyncpg.Connection) -> None:
    hoster = await conn.fetchval("SELECT hoster FROM case_routes WHERE hoster IS NOT NULL LIMIT 1")
    sla = SlaPolicy(timedelta(hours=72), {"NL": timedelta(hours=24)}, {hoster: H})
    for filters in (oversight_repo.QueueFilter(), oversight_repo.QueueFilter(state="escalated")):
        for descending in (False, True):
            walked = await _all_pages(conn, sla, filters, descending, walk=True)
            scanned = await _all_pages(conn, sla, filters, descending, walk=False)
            assert walked == scanned
            assert sum(len(ids) for ids, _ in walked) > (10 if filters.state else 37)
    page = await oversight_repo.queue(conn, "overdue", sla, oversight_repo.QueueFilter())
    reference = await oversight_repo.scan_queue(
        conn, "overdue", sla, oversight_repo.QueueFilter(), "deadline", False, None, 50
    )
    assert page == reference  # the rows themselves, every column
