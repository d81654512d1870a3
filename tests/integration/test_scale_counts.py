"""The trigger-maintained statistics counts (0096, open bins 0195) equal a recount from
scratch after any sequence of lifecycle events, and the statistics read from them equal the
per-request aggregation over every notified case that they replaced, at any "now". Withdrawn
cases count neither as open nor as removed."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from bench.scale_data import load
from service.db import oversight_repo, probe_repo
from service.db.tokens import create_token
from service.domain.scorecard import GroupHistogram, cards_of, cards_of_histograms
from service.domain.stats import by_hoster, summaries_of
from service.settings import Settings
from service.usecases import withdraw

CASES = 600
STEPS = 400
# The statistics as computed per request before 0096 (every notified case joined to its route).
TALLIES_FROM_SCRATCH = """
SELECT s.grp, stats_bucket(s.span) AS seconds,
       count(*) FILTER (WHERE s.removed) AS removed,
       count(*) FILTER (WHERE NOT s.removed) AS open,
       count(*) FILTER (WHERE s.reappeared) AS reappeared
FROM (
    SELECT CASE $1::text WHEN 'hoster' THEN coalesce(r.hoster, c.host)
                         WHEN 'asn' THEN r.asn::text ELSE r.country END AS grp,
           c.first_gone_at IS NOT NULL AS removed, c.reappeared_at IS NOT NULL AS reappeared,
           coalesce(c.first_gone_at, $2::timestamptz) - c.first_notice_at AS span
    FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
    WHERE c.first_notice_at IS NOT NULL AND c.state <> 'withdrawn'
) s
GROUP BY 1, 2
"""
PROBE_FROM_SCRATCH = """
SELECT s.hoster, k.clock, stats_bucket(k.span) AS seconds,
       count(*) FILTER (WHERE s.removed) AS removed,
       count(*) FILTER (WHERE NOT s.removed) AS censored
FROM (
    SELECT coalesce(r.hoster, c.host) AS hoster, c.first_notice_at, c.detected_at,
           c.first_gone_at IS NOT NULL AND c.removed_at IS NOT NULL AS removed,
           CASE WHEN c.first_gone_at IS NOT NULL AND c.removed_at IS NOT NULL
                THEN c.first_gone_at ELSE $1::timestamptz END AS ended
    FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
    WHERE c.first_notice_at IS NOT NULL AND c.state <> 'withdrawn'
) s
CROSS JOIN LATERAL (VALUES ('notice', s.ended - s.first_notice_at),
                           ('detection', s.ended - s.detected_at)) AS k (clock, span)
GROUP BY 1, 2, 3
"""
DAYS_FROM_SCRATCH = """
SELECT (first_gone_at AT TIME ZONE 'UTC')::date AS day, count(*) AS removed FROM cases
WHERE first_notice_at IS NOT NULL AND first_gone_at IS NOT NULL AND state <> 'withdrawn'
GROUP BY 1 ORDER BY 1
"""
COUNT_TABLES = {
    "stats_removed": "gone <> 0 OR confirmed <> 0 OR came_back <> 0",
    "stats_notices": "sent <> 0 OR failed <> 0",
    "stats_removal_days": "removed <> 0",
    "stats_open": "true",
    "stats_open_bins": "open <> 0 OR reappeared <> 0",
    "stats_groups": "cases <> 0",
}

Event = Callable[[asyncpg.Connection, random.Random], Awaitable[Any]]


@pytest.fixture
async def conn(db_url: str) -> Any:
    connection = await asyncpg.connect(db_url)
    token, _ = await create_token(connection, "counts-scanner", "scanner")
    await load(connection, CASES, token.id)
    yield connection
    await connection.close()


async def _some(conn: asyncpg.Connection, rand: random.Random, where: str, n: int = 1) -> list[int]:
    ids = [r["id"] for r in await conn.fetch(f"SELECT id FROM cases WHERE {where} ORDER BY id")]
    return rand.sample(ids, min(n, len(ids)))


async def _gone(conn: asyncpg.Connection, rand: random.Random) -> None:
    ids = await _some(conn, rand, "first_notice_at IS NOT NULL AND first_gone_at IS NULL", 3)
    await conn.execute(
        "UPDATE cases SET first_gone_at = greatest(first_notice_at, now() - $2 * interval '1 h')"
        " WHERE id = ANY($1)",
        ids,
        rand.randint(0, 2000),
    )


async def _confirmed(conn: asyncpg.Connection, rand: random.Random) -> None:
    ids = await _some(conn, rand, "first_gone_at IS NOT NULL AND removed_at IS NULL")
    await conn.execute(
        "UPDATE cases SET removed_at = first_gone_at + interval '3 days' WHERE id = ANY($1)", ids
    )


async def _reappeared(conn: asyncpg.Connection, rand: random.Random) -> None:
    ids = await _some(conn, rand, "removed_at IS NOT NULL")
    # the content is back: a new removal cycle starts (the probe later restamps the clocks)
    await conn.execute(
        "UPDATE cases SET reappeared_at = now(), removed_at = NULL, state = 'reappeared',"
        " first_gone_at = CASE WHEN $2 THEN NULL ELSE first_gone_at END WHERE id = ANY($1)",
        ids,
        rand.random() < 0.5,
    )


async def _notified(conn: asyncpg.Connection, rand: random.Random) -> None:
    ids = await _some(conn, rand, "first_notice_at IS NULL", 2)
    await conn.execute(
        "UPDATE cases SET first_notice_at = now() - $2 * interval '1 h' WHERE id = ANY($1)",
        ids,
        rand.randint(0, 500),
    )


async def _rerouted(conn: asyncpg.Connection, rand: random.Random) -> None:
    ids = await _some(conn, rand, "id IN (SELECT case_id FROM case_routes)", 2)
    await conn.execute(
        "UPDATE case_routes SET hoster = CASE WHEN $2 THEN NULL ELSE 'Moved ' || (case_id % 4) END,"
        " asn = 64500 + case_id % 3, country = CASE WHEN $3 THEN NULL ELSE 'NL' END"
        " WHERE case_id = ANY($1)",
        ids,
        rand.random() < 0.3,
        rand.random() < 0.3,
    )


async def _route_dropped_and_redone(conn: asyncpg.Connection, rand: random.Random) -> None:
    ids = await _some(conn, rand, "id IN (SELECT case_id FROM case_routes)")
    route = await conn.fetchrow("SELECT * FROM case_routes WHERE case_id = ANY($1)", ids)
    if route is None:
        return
    await conn.execute("DELETE FROM case_routes WHERE case_id = $1", route["case_id"])
    if rand.random() < 0.7:  # resolve's upsert, twice: insert then update
        for hoster in ("Again BV", "Again Ltd"):
            await conn.execute(
                "INSERT INTO case_routes (case_id, hoster, asn, country, recipients)"
                " VALUES ($1, $2, $3, 'DE', '[{\"address\": \"a@b.c\"}]')"
                " ON CONFLICT (case_id) DO UPDATE"
                " SET hoster = excluded.hoster, asn = excluded.asn",
                route["case_id"],
                hoster,
                route["asn"],
            )


async def _notice_outcome(conn: asyncpg.Connection, rand: random.Random) -> None:
    notice = await conn.fetchval("SELECT id FROM notices ORDER BY random() LIMIT 1")
    change = rand.choice(
        [
            "state = 'failed', sent_at = NULL",
            "state = 'sent', sent_at = now()",
            "bounced_at = now()",
            "bounced_at = NULL",
        ]
    )
    await conn.execute(f"UPDATE notices SET {change} WHERE id = $1", notice)


async def _new_notice(conn: asyncpg.Connection, rand: random.Random) -> None:
    ids = await _some(conn, rand, "true", 4)
    notice = await conn.fetchval(
        "INSERT INTO notices (recipient, language, message_id, state, sealed_at)"
        " VALUES ('abuse@x.example', 'en', $1, 'pending', now()) RETURNING id",
        f"<{rand.random()}@test>",
    )
    await conn.execute(
        "INSERT INTO notice_items (notice_id, case_id) SELECT $1, unnest($2::bigint[])", notice, ids
    )
    if rand.random() < 0.5:
        await conn.execute(
            "UPDATE notices SET state = 'sent', sent_at = now() WHERE id = $1", notice
        )
    if rand.random() < 0.3:
        await conn.execute(
            "DELETE FROM notice_items WHERE notice_id = $1 AND case_id = $2", notice, ids[0]
        )


async def _withdrawn(conn: asyncpg.Connection, rand: random.Random) -> None:
    # open, gone or removed: the hotline took the report back (a confirmed dispute, a hash)
    ids = await _some(conn, rand, "first_notice_at IS NOT NULL AND state <> 'withdrawn'", 2)
    await conn.execute(
        "UPDATE cases SET state = 'withdrawn', withdrawn_at = now() WHERE id = ANY($1)", ids
    )


async def _new_cases(conn: asyncpg.Connection, rand: random.Random) -> None:
    # cases COPYed in a removed state (the benchmark's loader), then routed
    scanner = await conn.fetchval("SELECT scanner_id FROM cases LIMIT 1")
    ids = await conn.fetch(
        "INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id, source_ref,"
        " state, detected_at, received_at, first_notice_at, first_gone_at, removed_at)"
        " SELECT 'http://new.example/' || g || '/' || $2, 'x', 'new.example',"
        " encode(sha256(($2 || g)::bytea), 'hex'), 'image/png', $1, 't', 'removed',"
        " now() - interval '9 days', now() - interval '9 days', now() - interval '8 days',"
        " now() - interval '7 days', now() - interval '6 days' FROM generate_series(1, 3) g"
        " RETURNING id",
        scanner,
        str(rand.random()),
    )
    await conn.execute(
        "INSERT INTO case_routes (case_id, hoster, country, recipients)"
        " SELECT unnest($1::bigint[]), 'Fresh BV', 'FR', '[{\"address\": \"a@b.c\"}]'",
        [r["id"] for r in ids],
    )


EVENTS: list[Event] = [
    _gone,
    _confirmed,
    _reappeared,
    _notified,
    _rerouted,
    _route_dropped_and_redone,
    _notice_outcome,
    _new_notice,
    _new_cases,
    _withdrawn,
]


async def _differences(conn: asyncpg.Connection) -> dict[str, int]:
    await conn.execute("SELECT stats_fold()")  # what the triggers left pending, counted
    out = {}
    for table, nonzero in COUNT_TABLES.items():
        out[table] = await conn.fetchval(
            f"SELECT count(*) FROM ((SELECT * FROM {table} WHERE {nonzero}"
            f" EXCEPT ALL SELECT * FROM {table}_recount)"
            f" UNION ALL (SELECT * FROM {table}_recount"
            f" EXCEPT ALL SELECT * FROM {table} WHERE {nonzero})) d"
        )
    return out


async def test_counts_equal_a_recount_after_random_lifecycle_events(
    conn: asyncpg.Connection,
) -> None:
    clean = {table: 0 for table in COUNT_TABLES}
    assert await _differences(conn) == clean  # the bulk load was counted as it went in
    rand = random.Random(96)
    for step in range(STEPS):
        event = rand.choice(EVENTS)
        async with conn.transaction():
            await event(conn, rand)
        if step % 50 == 49:
            assert await _differences(conn) == clean, f"after {event.__name__} (step {step})"
    assert await _differences(conn) == clean
    await _statistics_equal_the_aggregation_from_scratch(conn)


def _nows() -> list[datetime]:
    """Request times: on a whole minute (no age edge crosses a minute of first notice) and
    between (edges cross minutes: their cases are bucketed one by one), later ones too."""
    now = datetime.now(UTC)
    minute = now.replace(second=0, microsecond=0)
    return [
        now,
        minute,
        minute + timedelta(seconds=59, microseconds=999_999),
        now + timedelta(minutes=7, seconds=13.5),
        now + timedelta(days=3, hours=5, seconds=41),
        now + timedelta(days=50, seconds=1),
    ]


async def _statistics_equal_the_aggregation_from_scratch(conn: asyncpg.Connection) -> None:
    for now in _nows():
        await _statistics_equal_at(conn, now)


async def _statistics_equal_at(conn: asyncpg.Connection, now: datetime) -> None:
    for by in oversight_repo.STATS_DIMENSIONS:
        fast = await oversight_repo.stats_buckets(conn, by, now)
        slow = await conn.fetch(TALLIES_FROM_SCRATCH, by, now)
        assert sorted(fast, key=repr) == sorted(
            (oversight_repo.bucket_of(r) for r in slow), key=repr
        )
        groups, overall = await oversight_repo.stats_histograms(conn, by, now)
        assert cards_of_histograms(groups) == cards_of(oversight_repo.bucket_of(r) for r in slow)
        await _pages_equal_the_full_computation(conn, by, now, groups)
        # every notified case once in each dimension: the curve is the same from any of them
        assert await oversight_repo.stats_overall(conn, now) == overall
    fast_rows = await probe_repo.stats_rows(conn, now)
    slow_rows = [dict(r) for r in await conn.fetch(PROBE_FROM_SCRATCH, now)]
    assert sorted(fast_rows, key=repr) == sorted(slow_rows, key=repr)
    for clock in ("notice", "detection"):
        hosters, overall = await probe_repo.stats_histograms(conn, now, clock)
        assert summaries_of(hosters, overall) == by_hoster(slow_rows, clock, now)
    days = await oversight_repo.removals_per_day(conn)
    assert days == [(r["day"], r["removed"]) for r in await conn.fetch(DAYS_FROM_SCRATCH)]


async def _pages_equal_the_full_computation(
    conn: asyncpg.Connection, by: str, now: datetime, every: list[GroupHistogram]
) -> None:
    """The statistics page's paging (7 groups a page here) lists each group exactly once, the
    largest first, and each page's histograms are those of the computation over every group."""
    sizes = {g.tallies.group: sum(g.tallies.removed) + sum(g.tallies.censored) for g in every}
    listed: list[str] = []
    paged: list[GroupHistogram] = []
    for offset in range(0, len(every) + 7, 7):
        names, total = await oversight_repo.stats_group_page(conn, by, 7, offset)
        assert total == len(every)
        listed += [name if name is not None else "unknown" for name in names]
        paged += await oversight_repo.stats_histograms_of(conn, by, now, names)
    assert sorted(listed) == sorted(sizes)  # every group, none twice
    assert [sizes[name] for name in listed] == sorted(sizes.values(), reverse=True)
    assert sorted(paged, key=repr) == sorted(every, key=repr)


async def test_rebuild_recounts_what_the_triggers_kept(conn: asyncpg.Connection) -> None:
    rand = random.Random(7)
    for event in EVENTS:
        await event(conn, rand)
    now = datetime.now(UTC)
    before = await oversight_repo.stats_buckets(conn, "country", now)
    await conn.execute("SELECT stats_rebuild()")
    assert await _differences(conn) == {table: 0 for table in COUNT_TABLES}
    assert sorted(await oversight_repo.stats_buckets(conn, "country", now), key=repr) == sorted(
        before, key=repr
    )


async def test_two_notices_sent_while_their_case_is_first_notified_both_count(
    conn: asyncpg.Connection, db_url: str
) -> None:
    case = await conn.fetchval("SELECT min(id) FROM cases WHERE first_notice_at IS NULL")
    notices = [
        await conn.fetchval(
            "INSERT INTO notices (recipient, language, message_id, state, sealed_at)"
            " VALUES ($1, 'en', $1, 'sending', now()) RETURNING id",
            f"<{role}@race>",
        )
        for role in ("hoster", "registrar")
    ]
    for notice in notices:
        await conn.execute(
            "INSERT INTO notice_items (notice_id, case_id) VALUES ($1, $2)", notice, case
        )
    sent = "UPDATE notices SET state = 'sent', sent_at = now() WHERE id = $1"
    other = await asyncpg.connect(db_url)
    try:
        first = conn.transaction()
        await first.start()
        await conn.execute(sent, notices[0])  # round A: its notice accepted ...
        second = asyncio.create_task(_in_transaction(other, sent, notices[1]))  # round B
        await _blocked(conn, other)
        await conn.execute("UPDATE cases SET first_notice_at = now() WHERE id = $1", case)
        await first.commit()  # ... and the case stamped notified
        await second
    finally:
        await other.close()
    assert await _differences(conn) == {table: 0 for table in COUNT_TABLES}


async def _in_transaction(conn: asyncpg.Connection, sql: str, *args: Any) -> None:
    async with conn.transaction():
        await conn.execute(sql, *args)


async def _blocked(conn: asyncpg.Connection, other: asyncpg.Connection) -> None:
    """Wait until `other` waits for a lock (round B behind round A's case lock)."""
    pid = other.get_server_pid()
    deadline = asyncio.get_running_loop().time() + 10
    while asyncio.get_running_loop().time() < deadline:
        waiting = await conn.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second round never waited for the first")


def _by_group(buckets: list[oversight_repo.Bucket]) -> dict[str, tuple[int, int]]:
    """(removed, open) per group over every bucket."""
    out: dict[str, tuple[int, int]] = {}
    for b in buckets:
        removed, still_open = out.get(b.group, (0, 0))
        out[b.group] = (removed + b.removed, still_open + b.open)
    return out


async def test_withdrawn_cases_count_neither_open_nor_removed(
    conn: asyncpg.Connection, pool: asyncpg.Pool, settings: Settings
) -> None:
    waiting = await conn.fetchrow(
        "SELECT c.id, coalesce(r.hoster, c.host) AS hoster FROM cases c"
        " LEFT JOIN case_routes r ON r.case_id = c.id"
        " WHERE c.first_notice_at IS NOT NULL AND c.first_gone_at IS NULL ORDER BY c.id LIMIT 1"
    )
    gone = await conn.fetchrow(
        "SELECT c.id, coalesce(r.hoster, c.host) AS hoster FROM cases c"
        " LEFT JOIN case_routes r ON r.case_id = c.id"
        " WHERE c.first_notice_at IS NOT NULL AND c.removed_at IS NOT NULL ORDER BY c.id LIMIT 1"
    )
    now = datetime.now(UTC)
    before = _by_group(await oversight_repo.stats_buckets(conn, "hoster", now))
    rows_before = len(await oversight_repo.stats_rows(conn))

    async with pool.acquire() as writer:  # the service's connections (JSON codecs)
        await withdraw.withdraw_cases(
            writer, settings, [waiting["id"], gone["id"]], actor="supervisor:test",
            detail={"withdrawal": "hash_withdrawn"},
        )  # fmt: skip

    after = _by_group(await oversight_repo.stats_buckets(conn, "hoster", now))
    expected = dict(before)
    removed, still_open = expected[waiting["hoster"]]
    expected[waiting["hoster"]] = (removed, still_open - 1)
    removed, still_open = expected[gone["hoster"]]
    expected[gone["hoster"]] = (removed - 1, still_open)
    assert {g: v for g, v in after.items() if v != (0, 0)} == {
        g: v for g, v in expected.items() if v != (0, 0)
    }
    assert len(await oversight_repo.stats_rows(conn)) == rows_before - 2
    assert await _differences(conn) == {table: 0 for table in COUNT_TABLES}
