"""Storage of re-checks: observations, streak bookkeeping, recidivism; one function per query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict, cast

import asyncpg

from service.db.aggregates import fetch_without_jit
from service.db.jobs import enqueue_for_case
from service.db.queries import q
from service.domain.schedule import Streak
from service.domain.states import CaseState
from service.domain.stats import Histogram
from service.domain.verdicts import Verdict

PROBE_JOB = "probe"


@dataclass(frozen=True)
class ProbeCase:
    """A case as the probe stage sees it."""

    id: int
    url: str
    host: str
    hoster: str
    state: CaseState
    expected: dict[str, str]
    detected_at: datetime
    first_notice_at: datetime | None
    last_checked_at: datetime | None
    streak: Streak
    resume_state: CaseState | None
    cycle_started_at: datetime | None
    last_removed_at: datetime | None
    # Every address of a host served from several networks (each is checked); else empty.
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckRow:
    """One observation as stored (metadata only)."""

    at: datetime
    verdict: Verdict
    reason: str
    status: int | None
    matched: str | None
    pdq_distance: int | None
    hops: int
    profile: str
    total_ms: float | None
    first_byte_ms: float | None
    why: str | None = None  # what was seen instead of the content


async def load_case(conn: asyncpg.Connection, case_id: int) -> ProbeCase | None:
    return (await load_cases(conn, [case_id])).get(case_id)


async def load_cases(conn: asyncpg.Connection, case_ids: list[int]) -> dict[int, ProbeCase]:
    """`load_case` for a batch, in one query; ids of missing cases are absent."""
    rows = await conn.fetch(q("probe_cases"), case_ids)
    return {row["id"]: _case(row) for row in rows}


# Per loaded row (a claimed batch loads hundreds): a dict lookup instead of an Enum call,
# one shared empty streak (Streak is immutable) instead of a new one per case.
_STATES: dict[str, CaseState] = {s.value: s for s in CaseState}
_NO_STREAK = Streak()


def _case(row: asyncpg.Record) -> ProbeCase:
    count = row["streak_count"]
    return ProbeCase(
        id=row["id"],
        url=row["url"],
        host=row["host"],
        hoster=row["hoster"],
        state=_STATES[row["state"]],
        expected={k: row[k] for k in ("sha256", "sha1", "md5", "pdq") if row[k]},
        detected_at=row["detected_at"],
        first_notice_at=row["first_notice_at"],
        last_checked_at=row["last_checked_at"],
        streak=Streak(row["streak_started_at"], row["streak_last_gone"], count)
        if count or row["streak_started_at"] or row["streak_last_gone"]
        else _NO_STREAK,
        resume_state=_STATES.get(row["resume_state"]),
        cycle_started_at=row["cycle_started_at"],
        last_removed_at=row["last_removed_at"],
        addresses=tuple(row["addresses"] or ()),
    )


async def lock_state(conn: asyncpg.Connection, case_id: int) -> CaseState:
    return CaseState(await conn.fetchval(q("probe_lock_case"), case_id))


async def insert_check(
    conn: asyncpg.Connection, case_id: int, row: CheckRow, before: CaseState, after: CaseState
) -> int:
    check_id: int = await conn.fetchval(
        q("probe_insert_check"),
        case_id, row.at, row.verdict.value, row.reason, row.status, row.matched,
        row.pdq_distance, row.hops, row.profile, row.total_ms, row.first_byte_ms,
        before.value, after.value, row.why,
    )  # fmt: skip
    return check_id


async def record_quiet(
    conn: asyncpg.Connection, case: ProbeCase, row: CheckRow, streak: Streak
) -> int | None:
    """Store a check that changes no state, if the case is still in `case.state`."""
    check_id: int | None = await conn.fetchval(
        q("probe_record_quiet"),
        case.id, row.at, row.verdict.value, row.reason, row.status, row.matched,
        row.pdq_distance, row.hops, row.profile, row.total_ms, row.first_byte_ms,
        case.state.value, streak.started_at, streak.last_gone_at, streak.count,
        case.resume_state.value if case.resume_state else None, case.cycle_started_at,
        case.last_removed_at, row.why,
    )  # fmt: skip
    return check_id


@dataclass(frozen=True)
class QuietCheck:
    """A check that changes no state: the streak it leaves the case with (None: unchanged),
    and the job it was handled under with the job's next run (None: not rescheduled here)."""

    case: ProbeCase
    row: CheckRow
    streak: Streak | None
    job_id: int
    claim_id: int
    run_at: datetime | None


async def record_quiet_many(conn: asyncpg.Connection, checks: list[QuietCheck]) -> dict[int, bool]:
    """`record_quiet` for a batch in one statement, rescheduling the jobs with a `run_at`.

    Returns, per case recorded, whether its job was rescheduled (False: no `run_at`, or the
    claim was lost). A case whose state moved meanwhile is absent and takes the locking path.
    """
    if not checks:
        return {}
    rows = await conn.fetch(q("probe_record_quiet_many"), *_quiet_columns(checks))
    return {row["id"]: row["rescheduled"] for row in rows}


def _quiet_columns(checks: list[QuietCheck]) -> list[list[Any]]:
    """The statement's parameters: one array per column, one element per check."""
    ordered = sorted(checks, key=lambda c: c.case.id)  # rows are locked in one order
    return [list(column) for column in zip(*map(_quiet_values, ordered), strict=True)]


def _quiet_values(check: QuietCheck) -> tuple[Any, ...]:
    case, row, streak = check.case, check.row, check.streak
    return (
        case.id, row.at, row.verdict.value, row.reason, row.status, row.matched,
        row.pdq_distance, row.hops, row.profile, row.total_ms, row.first_byte_ms,
        case.state.value,
        streak.started_at if streak else None, streak.last_gone_at if streak else None,
        streak.count if streak else None,
        check.job_id, check.claim_id, check.run_at, row.why,
    )  # fmt: skip


async def save_tracking(
    conn: asyncpg.Connection,
    case_id: int,
    streak: Streak,
    resume: CaseState | None,
    cycle_started_at: datetime | None,
    last_removed_at: datetime | None,
) -> None:
    await conn.execute(
        q("probe_save_tracking"),
        case_id, streak.started_at, streak.last_gone_at, streak.count,
        resume.value if resume else None, cycle_started_at, last_removed_at,
    )  # fmt: skip


async def touch_case(conn: asyncpg.Connection, case_id: int, at: datetime, seen: bool) -> None:
    await conn.execute(q("probe_touch_case"), case_id, at, seen)


async def stamp_first_gone(conn: asyncpg.Connection, case_id: int, at: datetime) -> None:
    await conn.execute(q("probe_stamp_first_gone"), case_id, at)


async def count_reappearance(conn: asyncpg.Connection, hoster: str, at: datetime) -> int:
    count: int = await conn.fetchval(q("probe_count_reappearance"), hoster, at)
    return count


async def request_check_now(conn: asyncpg.Connection, case_id: int) -> None:
    """Check a case as soon as possible (a hoster answered "removed" on the ack page)."""
    await enqueue_for_case(conn, PROBE_JOB, case_id)


async def stats_rows(
    conn: asyncpg.Connection, now: datetime | None = None, clock: str | None = None
) -> list[dict[str, Any]]:
    """Time to removal per hoster as histogram rows (hoster, clock, seconds, removed,
    censored) for service.domain.stats.by_hoster; open cases censored at `now`; both clocks
    unless `clock` ('notice' or 'detection') is given."""
    at = now or datetime.now(UTC)
    return [dict(r) for r in await fetch_without_jit(conn, q("probe_stats_rows"), at, clock)]


async def stats_histograms(
    conn: asyncpg.Connection, now: datetime, clock: str
) -> tuple[list[Histogram], Histogram]:
    """stats_rows of one clock as one histogram per hoster plus the one over every hoster,
    for service.domain.stats.summaries_of (the same figures as by_hoster)."""
    hosters, overall = [], Histogram("", [], [], [])
    for r in await fetch_without_jit(conn, q("probe_stats_histograms"), now, clock):
        tallies = Histogram(r["hoster"] or "", r["seconds"], r["removed"], r["censored"])
        if r["overall"]:
            overall = tallies
        else:
            hosters.append(tallies)
    return hosters, overall


class HosterRecidivism(TypedDict):
    """How often content came back at a hoster after a confirmed removal."""

    hoster: str
    reappearances: int
    last_reappeared_at: datetime | None


class CaseCheck(TypedDict):
    """One observation of a case as its record shows it (states and verdict as text)."""

    id: int
    at: datetime
    verdict: str
    why: str | None
    reason: str
    status: int | None
    matched: str | None
    pdq_distance: int | None
    hops: int
    profile: str
    total_ms: float | None
    first_byte_ms: float | None
    state_before: str
    state_after: str


class RemovalCount(TypedDict):
    """Confirmed removals at a hoster for one reason the confirming check saw."""

    hoster: str
    why: str
    removals: int


async def recidivism(conn: asyncpg.Connection) -> list[HosterRecidivism]:
    return [cast(HosterRecidivism, dict(r)) for r in await conn.fetch(q("probe_recidivism"))]


async def case_checks(conn: asyncpg.Connection, case_id: int) -> list[CaseCheck]:
    rows = await conn.fetch(q("probe_case_checks"), case_id)
    return [cast(CaseCheck, dict(r)) for r in rows]


async def sight_placeholder(conn: asyncpg.Connection, host: str, sha256: str, case_id: int) -> int:
    """Note that `host` served `sha256` in place of the case's content; how many of the
    host's cases were answered with these bytes (this one included)."""
    cases: int = await conn.fetchval(q("probe_sight_placeholder"), host, sha256, case_id)
    return cases


async def removals_by_reason(conn: asyncpg.Connection) -> list[RemovalCount]:
    """Confirmed removals per (hoster, why)."""
    return [cast(RemovalCount, dict(r)) for r in await conn.fetch(q("probe_removals_by_reason"))]
