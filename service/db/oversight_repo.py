"""Oversight storage: ladders, holds, hand-offs, queues, statistics rows, analysts, sessions.

One typed function per named query of queries/oversight.sql. The queue conditions and the
keyset paging are composed here from whitelisted fragments only (never from user input).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypedDict, cast

import asyncpg

from service.db.aggregates import fetch_without_jit, fold_counts
from service.db.queries import q
from service.domain.escalation import Ladder
from service.domain.scorecard import Bucket, GroupHistogram
from service.domain.sla import SlaPolicy
from service.domain.stats import Histogram

Row = dict[str, Any]

# Which cases each analyst queue shows (conditions on the columns of oversight_queue_rows).
QUEUES: dict[str, str] = {
    "overdue": "q.state IN ('notified', 'acknowledged', 'escalated') AND q.deadline < now()",
    "unresolved": "q.state = 'unresolved'",
    "bounced": "q.bounce IS NOT NULL AND q.state NOT IN ('removed', 'gone_pending')",
    "not_ours": "q.not_ours IS NOT NULL",
    "disputes": "q.dispute IS NOT NULL",
    "reappeared": "q.state = 'reappeared' OR (q.reappeared_at IS NOT NULL"
    " AND q.state IN ('notified', 'acknowledged', 'escalated'))",
    "held": "q.state = 'held' OR q.hold_reason IS NOT NULL",
    "replies": "q.reply IS NOT NULL",
}
# Sortable columns: SQL expression (NULLs mapped to a sentinel so keyset comparison works)
# and the type the cursor value is cast to.
SORTS: dict[str, tuple[str, str]] = {
    "deadline": ("coalesce(q.deadline, 'infinity'::timestamptz)", "timestamptz"),
    "first_notice_at": ("coalesce(q.first_notice_at, 'infinity'::timestamptz)", "timestamptz"),
    "received_at": ("q.received_at", "timestamptz"),
    "hoster": ("coalesce(q.hoster, '')", "text"),
    "country": ("coalesce(q.country, '')", "text"),
    "id": ("q.id", "bigint"),
}


@dataclass(frozen=True)
class QueueFilter:
    hoster: str | None = None
    country: str | None = None
    asn: int | None = None
    state: str | None = None
    search: str | None = None


@dataclass(frozen=True)
class Page:
    """A keyset page: rows plus the cursor (sort value, id) of the last row, if more exist."""

    rows: list[Row]
    next_after: tuple[str, int] | None


def sla_params(sla: SlaPolicy) -> list[Any]:
    """The SLA as query parameters; allowances in seconds (a fixed shift of the clock)."""
    hosters = list(sla.by_hoster.items())
    countries = list(sla.by_country.items())
    return [
        sla.default.total_seconds(),
        [name.lower() for name, _ in hosters],
        [value.total_seconds() for _, value in hosters],
        [code.upper() for code, _ in countries],
        [value.total_seconds() for _, value in countries],
    ]


async def queue(
    conn: asyncpg.Connection,
    name: str,
    sla: SlaPolicy,
    filters: QueueFilter,
    *,
    sort: str = "deadline",
    descending: bool = False,
    after: tuple[str, int] | None = None,
    limit: int = 50,
) -> Page:
    """One page of an analyst queue, sorted and filtered."""
    if name not in QUEUES or sort not in SORTS:
        raise ValueError(f"unknown queue {name!r} or sort {sort!r}")
    if name == "overdue" and sort == "deadline" and not _narrowing(filters):
        return await _overdue_by_deadline(conn, sla, filters, descending, after, limit)
    return await scan_queue(conn, name, sla, filters, sort, descending, after, limit)


def _narrowing(filters: QueueFilter) -> bool:
    """Filters that may match few cases of an allowance class: the walk would then read the
    class's whole overdue range once per class, and the general query's one hash join over
    the clock's cases is cheaper (measured at a million cases)."""
    narrowing = (filters.hoster, filters.country, filters.asn, filters.search)
    return any(value is not None for value in narrowing)


async def scan_queue(
    conn: asyncpg.Connection,
    name: str,
    sla: SlaPolicy,
    filters: QueueFilter,
    sort: str,
    descending: bool,
    after: tuple[str, int] | None,
    limit: int,
) -> Page:
    """Any queue in any order by the general query (a scan of every case it may show); the
    reference the overdue walk is tested against."""
    expression, cast = SORTS[sort]
    direction, compare = ("DESC", "<") if descending else ("ASC", ">")
    keyset = f"($11::text IS NULL OR ({expression}, q.id) {compare} ($11::{cast}, $12::bigint))"
    sql = (
        f"{q('oversight_queue_rows')}\n  AND ({QUEUES[name]})\n  AND {keyset}\n"
        f"ORDER BY {expression} {direction}, q.id {direction}\nLIMIT $13"
    )
    args = [*sla_params(sla), filters.hoster, filters.country, filters.asn, filters.state]
    args += [filters.search, after[0] if after else None, after[1] if after else None, limit + 1]
    rows = [dict(r) for r in await conn.fetch(sql, *args)]
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = (_cursor_value(rows[-1], sort), rows[-1]["id"]) if more and rows else None
    return Page(rows, cursor)


async def _overdue_by_deadline(
    conn: asyncpg.Connection,
    sla: SlaPolicy,
    filters: QueueFilter,
    descending: bool,
    after: tuple[str, int] | None,
    limit: int,
) -> Page:
    """The overdue queue in deadline order: the page's ids from one short index walk per
    allowance class (oversight_overdue_walk), then their rows; same rows and cursor as the
    general query, at a cost that does not grow with the number of open cases."""
    direction, compare = ("DESC", "<") if descending else ("ASC", ">")
    start = ("infinity", 2**63 - 1) if descending else ("-infinity", 0)
    cursor = after or start
    base = [*sla_params(sla), filters.hoster, filters.country, filters.asn, filters.state]
    base.append(filters.search)
    walk = q("oversight_overdue_walk").format(cmp=compare, dir=direction)
    ids = [r["id"] for r in await conn.fetch(walk, *base, cursor[0], cursor[1], limit + 1)]
    expression = SORTS["deadline"][0]
    sql = (
        f"{q('oversight_queue_rows')}\n  AND ({QUEUES['overdue']})\n  AND q.id = ANY($11::bigint[])"
        f"\nORDER BY {expression} {direction}, q.id {direction}"
    )
    rows = [dict(r) for r in await conn.fetch(sql, *base, ids)] if ids else []
    more = len(rows) > limit
    rows = rows[:limit]
    next_after = (_cursor_value(rows[-1], "deadline"), rows[-1]["id"]) if more and rows else None
    return Page(rows, next_after)


def _cursor_value(row: Row, sort: str) -> str:
    value = row.get(sort)
    if value is None:
        return "infinity" if SORTS[sort][1] == "timestamptz" else ""
    return value.isoformat() if isinstance(value, datetime) else str(value)


# --- the ladder -----------------------------------------------------------------------------


async def sweep_due(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Row]:
    return [dict(r) for r in await conn.fetch(q("oversight_sweep_due"), now, limit)]


async def next_wake(conn: asyncpg.Connection) -> datetime | None:
    value: datetime | None = await conn.fetchval(q("oversight_next_wake"))
    return value


def ladder_from(row: Any) -> Ladder:
    if row is None:
        return Ladder()
    return Ladder(
        next_step=row["next_step"] or 0,
        paused=bool(row["paused"]),
        triggered=bool(row["triggered"]),
        next_step_at=row["next_step_at"],
        last_reminder_at=row["last_reminder_at"],
    )


async def ladder_for_update(conn: asyncpg.Connection, case_id: int) -> Ladder:
    return ladder_from(await conn.fetchrow(q("oversight_ladder"), case_id))


async def save_ladder(
    conn: asyncpg.Connection, case_id: int, ladder: Ladder, wake_at: datetime | None
) -> None:
    await conn.execute(
        q("oversight_save_ladder"),
        case_id,
        ladder.next_step,
        ladder.paused,
        ladder.triggered,
        ladder.next_step_at,
        ladder.last_reminder_at,
        wake_at,
    )


async def contacted(conn: asyncpg.Connection, case_id: int) -> set[str]:
    return {r["recipient"] for r in await conn.fetch(q("oversight_contacted"), case_id)}


async def reminder_targets(conn: asyncpg.Connection, case_id: int) -> list[Row]:
    return [dict(r) for r in await conn.fetch(q("oversight_reminder_targets"), case_id)]


async def insert_handoff(
    conn: asyncpg.Connection,
    case_id: int,
    step: str,
    recipient: str | None,
    detail: dict[str, Any],
    actor: str,
) -> int:
    handoff_id: int = await conn.fetchval(
        q("oversight_insert_handoff"), case_id, step, recipient, detail, actor
    )
    return handoff_id


# --- a case for analysts ---------------------------------------------------------------------


async def case_overview(conn: asyncpg.Connection, case_id: int) -> Row | None:
    row = await conn.fetchrow(q("oversight_case_overview"), case_id)
    return dict(row) if row else None


class CaseNotice(TypedDict):
    """A notice about a case as its record shows it (kind and state as text)."""

    id: int
    kind: str
    role: str
    recipient: str
    state: str
    created_at: datetime
    sent_at: datetime | None
    deadline_at: datetime | None
    bounced_at: datetime | None
    last_error: str | None


class CaseAnswer(TypedDict):
    """What a hoster answered about a case through the acknowledgment page."""

    answer: str
    responsible: str
    dispute_reason: str | None
    note: str
    answered_at: datetime
    reviewed_at: datetime | None
    recipient: str


class CaseHandoff(TypedDict):
    """A ladder step taken by hand or by the sweep (its detail is the step's own record)."""

    id: int
    step: str
    recipient: str | None
    detail: dict[str, Any]
    created_by: str
    created_at: datetime


async def case_notices(conn: asyncpg.Connection, case_id: int) -> list[CaseNotice]:
    rows = await conn.fetch(q("oversight_case_notices"), case_id)
    return [cast(CaseNotice, dict(r)) for r in rows]


async def case_answers(conn: asyncpg.Connection, case_id: int) -> list[CaseAnswer]:
    """The hosters' answers about the case (received, removed, not ours and by whom, disputes)."""
    rows = await conn.fetch(q("oversight_case_answers"), case_id)
    return [cast(CaseAnswer, dict(r)) for r in rows]


async def case_handoffs(conn: asyncpg.Connection, case_id: int) -> list[CaseHandoff]:
    rows = await conn.fetch(q("oversight_case_handoffs"), case_id)
    return [cast(CaseHandoff, dict(r)) for r in rows]


async def review_answers(conn: asyncpg.Connection, case_id: int, answers: Sequence[str]) -> int:
    return len(await conn.fetch(q("oversight_review_answers"), case_id, list(answers)))


async def prefer_recipient(conn: asyncpg.Connection, case_id: int, entry: Row) -> None:
    """Put `entry` (address, role, source, …) first among the case's ranked recipients."""
    await conn.execute(q("oversight_prefer_recipient"), case_id, entry)


# --- holds -----------------------------------------------------------------------------------


class HoldRow(TypedDict):
    """A law-enforcement hold: on one case, a hoster's cases or a domain's (one of the three)."""

    id: int
    case_id: int | None
    hoster: str | None
    domain: str | None
    reason: str
    created_by: str
    created_at: datetime
    lifted_by: str | None
    lifted_at: datetime | None


class CaseToHold(TypedDict):
    """A case an active hold covers and that is not held yet."""

    id: int
    state: str
    hold_id: int
    reason: str


class CoveringHold(TypedDict):
    """The oldest active hold covering a case, with the case's state."""

    hold_id: int
    reason: str
    state: str


class CaseToRelease(TypedDict):
    """A held case a lifted hold released: routable, and its state before the hold."""

    id: int
    routable: bool
    before_hold: str | None


async def insert_hold(
    conn: asyncpg.Connection,
    *,
    case_id: int | None = None,
    hoster: str | None = None,
    domain: str | None = None,
    reason: str,
    actor: str,
) -> HoldRow:
    row = await conn.fetchrow(q("oversight_insert_hold"), case_id, hoster, domain, reason, actor)
    return cast(HoldRow, dict(row))


async def lift_hold(conn: asyncpg.Connection, hold_id: int, actor: str) -> HoldRow | None:
    row = await conn.fetchrow(q("oversight_lift_hold"), hold_id, actor)
    return cast(HoldRow, dict(row)) if row else None


async def holds(conn: asyncpg.Connection, limit: int = 500) -> list[HoldRow]:
    return [cast(HoldRow, dict(r)) for r in await conn.fetch(q("oversight_holds"), limit)]


async def cases_to_hold(
    conn: asyncpg.Connection, hold_id: int | None, limit: int = 10_000
) -> list[CaseToHold]:
    rows = await conn.fetch(q("oversight_cases_to_hold"), hold_id, limit)
    return [cast(CaseToHold, dict(r)) for r in rows]


async def hold_covering_case(conn: asyncpg.Connection, case_id: int) -> CoveringHold | None:
    row = await conn.fetchrow(q("oversight_hold_covering_case"), case_id)
    return cast(CoveringHold, dict(row)) if row else None


async def holds_covering_cases(
    conn: asyncpg.Connection, case_ids: list[int]
) -> dict[int, CoveringHold]:
    """`hold_covering_case` for many cases: {covered case id: its oldest active hold}."""
    rows = await conn.fetch(q("oversight_holds_covering_cases"), case_ids)
    return {
        row["case_id"]: cast(
            CoveringHold,
            {"hold_id": row["hold_id"], "reason": row["reason"], "state": row["state"]},
        )
        for row in rows
    }


async def cases_to_release(conn: asyncpg.Connection, hold_id: int) -> list[CaseToRelease]:
    rows = await conn.fetch(q("oversight_cases_to_release"), hold_id)
    return [cast(CaseToRelease, dict(r)) for r in rows]


# --- statistics and content movement ---------------------------------------------------------


async def stats_rows(conn: asyncpg.Connection) -> list[Row]:
    """Every notified case (the CLI's stats-by); the pages use the histograms below."""
    return [dict(r) for r in await conn.fetch(q("oversight_stats_rows"))]


STATS_DIMENSIONS = ("hoster", "asn", "country")


async def stats_buckets(conn: asyncpg.Connection, by: str, now: datetime) -> list[Bucket]:
    """Time to removal per group of `by` as duration buckets (resolution: stats_bucket in
    migration 0091), open cases censored at `now`; groups without a value are "unknown"."""
    if by not in STATS_DIMENSIONS:
        raise ValueError(f"unknown grouping {by!r}")
    rows = await fetch_without_jit(conn, q("oversight_stats_tallies"), by, now)
    return [bucket_of(r) for r in rows]


def bucket_of(row: Mapping[str, Any]) -> Bucket:
    """A histogram row (grp, seconds, removed, open, reappeared) as a domain Bucket."""
    return Bucket(
        _group(row["grp"]),
        timedelta(seconds=row["seconds"]),
        row["removed"],
        row["open"],
        row["reappeared"],
    )


async def stats_histograms(
    conn: asyncpg.Connection, by: str, now: datetime
) -> tuple[list[GroupHistogram], Histogram]:
    """stats_buckets as one histogram per group plus the one over every group (the survival
    curve's): the same figures, a few thousand rows instead of a few hundred thousand."""
    if by not in STATS_DIMENSIONS:
        raise ValueError(f"unknown grouping {by!r}")
    groups, overall = [], Histogram("", [], [], [])
    for r in await fetch_without_jit(conn, q("oversight_stats_histograms"), by, now):
        tallies = Histogram(_group(r["grp"]), r["seconds"], r["removed"], r["open"])
        if r["overall"]:
            overall = tallies
        else:
            groups.append(GroupHistogram(tallies, r["reappeared"]))
    return groups, overall


async def stats_group_page(
    conn: asyncpg.Connection, by: str, limit: int, offset: int
) -> tuple[list[str | None], int]:
    """One page of the groups of `by` with notified cases, most cases first (None: the
    "unknown" group), and how many groups there are in all."""
    if by not in STATS_DIMENSIONS:
        raise ValueError(f"unknown grouping {by!r}")
    async with conn.transaction():
        await fold_counts(conn)
        rows = await conn.fetch(q("oversight_stats_groups_page"), by, limit, offset)
        total = await conn.fetchval(q("oversight_stats_groups_count"), by)
    return [r["grp"] for r in rows], total


async def stats_group_named(conn: asyncpg.Connection, by: str, name: str) -> str | None:
    """The group of `by` called `name` in any letter case, None when it has no notified case."""
    await fold_counts(conn)
    return cast(str | None, await conn.fetchval(q("oversight_stats_group_named"), by, name))


async def stats_histograms_of(
    conn: asyncpg.Connection, by: str, now: datetime, groups: Sequence[str | None]
) -> list[GroupHistogram]:
    """stats_histograms for the given groups only (None: "unknown"): what a page of groups
    costs, whatever the number of groups."""
    if by not in STATS_DIMENSIONS:
        raise ValueError(f"unknown grouping {by!r}")
    if not groups:
        return []
    named = [g for g in groups if g is not None]
    rows = await fetch_without_jit(
        conn, q("oversight_stats_histograms_of"), by, now, named, None in groups
    )
    return [
        GroupHistogram(
            Histogram(_group(r["grp"]), r["seconds"], r["removed"], r["open"]), r["reappeared"]
        )
        for r in rows
    ]


# Every notified case is counted once in each dimension, so the histogram over every group is
# the same from any of them: take it from the one with the fewest groups.
OVERALL_DIMENSION = "country"


async def stats_overall(conn: asyncpg.Connection, now: datetime) -> Histogram:
    """The histogram over every notified case (the survival curve's), from the countries."""
    _groups, overall = await stats_histograms(conn, OVERALL_DIMENSION, now)
    return overall


async def stats_notices(conn: asyncpg.Connection, by: str) -> dict[str, tuple[int, int]]:
    """Notices about notified cases per group of `by`: (sent, failed or bounced)."""
    if by not in STATS_DIMENSIONS:
        raise ValueError(f"unknown grouping {by!r}")
    await fold_counts(conn)
    rows = await conn.fetch(q("oversight_stats_notices"), by)
    return {
        (r["grp"] if r["grp"] is not None else "unknown"): (r["sent"], r["failed"]) for r in rows
    }


async def removals_per_day(conn: asyncpg.Connection) -> list[tuple[date, int]]:
    """Notified cases first gone per UTC day, in date order (days without removals absent)."""
    await fold_counts(conn)
    rows = await conn.fetch(q("oversight_stats_removals_per_day"))
    return [(r["day"], r["removed"]) for r in rows]


def _group(value: str | None) -> str:
    return value if value is not None else "unknown"


class HosterContact(TypedDict):
    """An address that received notices about a hoster's cases, with its health."""

    address: str
    notices: int
    delivered: int
    bounced: int
    acknowledged: int
    failing: bool
    median_removal_seconds: float | None


class ContentSighting(TypedDict):
    """A case of one piece of known content: where and when it was seen and removed."""

    id: int
    url: str
    host: str
    hoster: str
    country: str | None
    asn: int | None
    state: str
    detected_at: datetime
    first_notice_at: datetime | None
    first_gone_at: datetime | None
    removed_at: datetime | None
    reappeared_at: datetime | None


class WaterbedMove(TypedDict):
    """Content that went from one hoster to another after a removal, counted, with the lag."""

    from_hoster: str
    to_hoster: str
    to_country: str | None
    moves: int
    median_lag_seconds: float | None


async def hoster_contacts(conn: asyncpg.Connection, hoster: str) -> list[HosterContact]:
    rows = await conn.fetch(q("oversight_hoster_contacts"), hoster)
    return [cast(HosterContact, dict(r)) for r in rows]


async def content_timeline(
    conn: asyncpg.Connection, digest: str, limit: int = 500
) -> list[ContentSighting]:
    rows = await conn.fetch(q("oversight_content_timeline"), digest.lower(), limit)
    return [cast(ContentSighting, dict(r)) for r in rows]


async def waterbed(conn: asyncpg.Connection, limit: int = 100) -> list[WaterbedMove]:
    return [cast(WaterbedMove, dict(r)) for r in await conn.fetch(q("oversight_waterbed"), limit)]


# --- analysts and sessions -------------------------------------------------------------------


async def create_analyst(
    conn: asyncpg.Connection, username: str, password_hash: str, role: str
) -> Row:
    return dict(await conn.fetchrow(q("oversight_create_analyst"), username, password_hash, role))


async def analyst_by_name(conn: asyncpg.Connection, username: str) -> Row | None:
    row = await conn.fetchrow(q("oversight_analyst_by_name"), username)
    return dict(row) if row else None


async def create_session(
    conn: asyncpg.Connection, digest: bytes, analyst_id: int, ttl: timedelta
) -> None:
    await conn.execute(q("oversight_create_session"), digest, analyst_id, ttl)


async def end_session(conn: asyncpg.Connection, digest: bytes) -> None:
    await conn.execute(q("oversight_end_session"), digest)


async def wake_case(conn: asyncpg.Connection, case_id: int) -> None:
    """Make the case's ladder due now (the sweep must be woken too: usecases.oversee.wake_sweep)."""
    await conn.execute(q("oversight_wake_case"), case_id)
