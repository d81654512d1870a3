"""What the probe stage records, and what its figures read.

The 'probe' stage (service/workers/probe_stage.py) fetches, hashes and schedules; the verdict
rules are in service/domain/verdicts.py and what a verdict does to a case in
service/domain/schedule.py (`react`). This module records it: `record_quiet` /
`record_quiet_many` store checks that change no state (nearly all, one statement), and
`record_check` stores a check with the case locked and applies the verdict's transitions —
gone_pending (first gone), removed (streak confirmed: first_gone_at, removed_at, both clocks
in the event and one log line), reappeared (a new 'outbox' job, the hoster's count up) or back
to the open state. It also reads the probe's figures: time to removal per hoster
(`removal_histograms`) and reappearances per hoster (`reappearances`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from service.db import cases, jobs, probe_repo
from service.db.probe_repo import PROBE_JOB, CheckRow, ProbeCase, QuietCheck
from service.domain.schedule import CheckPolicy, Reaction, Streak, react
from service.domain.states import CaseState
from service.domain.stats import Histogram
from service.domain.verdicts import Verdict
from service.probe.runner import ProbeResult

__all__ = [
    "PROBE_JOB",
    "CheckRow",
    "ProbeCase",
    "QuietCheck",
    "Recorded",
    "Tracking",
    "check_row",
    "load_case",
    "load_cases",
    "reappearances",
    "record_check",
    "record_quiet",
    "record_quiet_many",
    "removal_histograms",
]

log = logging.getLogger(__name__)
ACTOR = "worker:probe"
S = CaseState


async def load_case(pool: asyncpg.Pool, case_id: int) -> ProbeCase | None:
    """The case as the probe needs it (URL, hashes, state, streak, clocks)."""
    async with pool.acquire() as conn:
        return await probe_repo.load_case(conn, case_id)


async def load_cases(pool: asyncpg.Pool, case_ids: list[int]) -> dict[int, ProbeCase]:
    """`load_case` for a claimed batch, in one query."""
    async with pool.acquire() as conn:
        return await probe_repo.load_cases(conn, case_ids)


async def record_quiet(
    pool: asyncpg.Pool, case: ProbeCase, row: CheckRow, streak: Streak
) -> int | None:
    """Store a check that moves nothing, in one statement; None: the state moved meanwhile."""
    async with pool.acquire() as conn:
        return await probe_repo.record_quiet(conn, case, row, streak)


async def record_quiet_many(pool: asyncpg.Pool, checks: list[QuietCheck]) -> dict[int, bool]:
    """`record_quiet` for many checks with their jobs' reschedules, in one statement: per
    case recorded, whether its job was rescheduled."""
    async with pool.acquire() as conn:
        return await probe_repo.record_quiet_many(conn, checks)


class Tracking:
    """The per-case bookkeeping a check updates (saved to probe_tracking)."""

    def __init__(
        self,
        streak: Streak,
        resume: CaseState | None,
        cycle_started_at: datetime | None,
        last_removed_at: datetime | None,
    ) -> None:
        self.streak = streak
        self.resume = resume
        self.cycle_started_at = cycle_started_at
        self.last_removed_at = last_removed_at

    @classmethod
    def of(cls, case: ProbeCase, streak: Streak) -> Tracking:
        return cls(streak, case.resume_state, case.cycle_started_at, case.last_removed_at)

    def values(self) -> tuple[Streak, CaseState | None, datetime | None, datetime | None]:
        return self.streak, self.resume, self.cycle_started_at, self.last_removed_at


@dataclass(frozen=True)
class Recorded:
    """A recorded check: the state the case ended in and its bookkeeping (for the schedule)."""

    state: CaseState
    tracking: Tracking


async def record_check(
    pool: asyncpg.Pool, case: ProbeCase, report: ProbeResult, at: datetime, policy: CheckPolicy
) -> Recorded:
    """Store the check with the case locked and apply what its verdict does, in one
    transaction (each move its event)."""
    async with pool.acquire() as conn, conn.transaction():
        state = await probe_repo.lock_state(conn, case.id)
        streak = case.streak.after(report.verdict, at)
        reaction = react(state, report.verdict, streak, case.resume_state, policy)
        after = reaction.moves[-1] if reaction.moves else state
        check_id = await probe_repo.insert_check(conn, case.id, check_row(report, at), state, after)
        tracking = Tracking.of(case, streak)
        await _apply(conn, case, state, reaction, tracking, _detail(report, check_id), at)
        if state is S.GONE_PENDING and report.verdict is Verdict.PRESENT:
            tracking.resume = None
        await probe_repo.touch_case(conn, case.id, at, report.verdict is Verdict.PRESENT)
        await probe_repo.save_tracking(conn, case.id, *tracking.values())
    return Recorded(after, tracking)


async def _apply(
    conn: asyncpg.Connection,
    case: ProbeCase,
    state: CaseState,
    reaction: Reaction,
    tracking: Tracking,
    detail: dict[str, Any],
    at: datetime,
) -> None:
    current = state
    for move in reaction.moves:
        if move is S.GONE_PENDING:
            tracking.resume = current
            await cases.transition(conn, case.id, move, actor=ACTOR, detail=detail, expect=current)
        elif move is S.REMOVED:
            await _removed(conn, case, tracking, detail | {"from": current.value}, at)
        elif move is S.REAPPEARED:
            await _reappeared(conn, case, tracking, detail, at)
        else:
            await cases.transition(conn, case.id, move, actor=ACTOR, detail=detail, expect=current)
        current = move


async def _removed(
    conn: asyncpg.Connection,
    case: ProbeCase,
    tracking: Tracking,
    detail: dict[str, Any],
    at: datetime,
) -> None:
    first_gone = tracking.streak.started_at or at
    clocks = _removal_clocks(case, first_gone, at, tracking.streak)
    await probe_repo.stamp_first_gone(conn, case.id, first_gone)
    await cases.transition(
        conn, case.id, S.REMOVED, actor=ACTOR, kind="removal", detail=detail | clocks,
        stamp="removed_at", at=at, expect=S.GONE_PENDING,
    )  # fmt: skip
    tracking.last_removed_at = at
    log.info(
        "removal confirmed case=%d hoster=%r notice_clock_s=%s detection_clock_s=%s "
        "streak=%d first_gone_at=%s",
        case.id, case.hoster, clocks["notice_clock_s"], clocks["detection_clock_s"],
        tracking.streak.count, first_gone.isoformat(),
    )  # fmt: skip


async def _reappeared(
    conn: asyncpg.Connection,
    case: ProbeCase,
    tracking: Tracking,
    detail: dict[str, Any],
    at: datetime,
) -> None:
    count = await probe_repo.count_reappearance(conn, case.hoster, at)
    removed = _iso(tracking.last_removed_at)
    await cases.transition(
        conn, case.id, S.REAPPEARED, actor=ACTOR, kind="reappearance",
        detail=detail | {"hoster_reappearances": count, "removed_at": removed},
        stamp="reappeared_at", at=at, expect=S.REMOVED,
    )  # fmt: skip
    # A new notice goes out; it reads the reappearance from the case (reappeared_at, and
    # the last removal in probe_tracking) and says the content was removed before.
    await jobs.enqueue_for_case(conn, "outbox", case.id)
    tracking.streak, tracking.cycle_started_at = Streak(), at
    log.info("reappeared case=%d hoster=%r hoster_reappearances=%d", case.id, case.hoster, count)


def _removal_clocks(
    case: ProbeCase, first_gone: datetime, at: datetime, streak: Streak
) -> dict[str, Any]:
    """Time to removal on the notice clock and the detection clock (design.md §3)."""
    notice = (first_gone - case.first_notice_at).total_seconds() if case.first_notice_at else None
    return {
        "first_gone_at": first_gone.isoformat(),
        "removed_at": at.isoformat(),
        "notice_clock_s": notice,
        "detection_clock_s": (first_gone - case.detected_at).total_seconds(),
        "streak": streak.count,
        "cycle_started_at": _iso(case.cycle_started_at),
    }


def check_row(report: ProbeResult, at: datetime) -> CheckRow:
    """What is stored of a check: the verdict and how it was reached, never content."""
    return CheckRow(
        at=at,
        verdict=report.verdict,
        reason=report.reason,
        status=report.status,
        matched=report.matched,
        pdq_distance=report.pdq_distance,
        hops=len(report.hops),
        profile=report.profile,
        total_ms=report.timings.get("total_ms"),
        first_byte_ms=report.timings.get("first_byte_ms"),
        why=report.why.value if report.why else None,
    )


def _detail(report: ProbeResult, check_id: int) -> dict[str, Any]:
    detail = {"check_id": check_id, "verdict": report.verdict.value, "reason": report.reason[:300]}
    return detail | ({"why": report.why.value} if report.why else {})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def removal_histograms(
    pool: asyncpg.Pool, now: datetime, clock: str
) -> tuple[list[Histogram], Histogram]:
    """Time to removal on `clock` ('notice' or 'detection') per hoster and over every hoster,
    open cases censored at `now` (for service.domain.stats.summaries_of)."""
    async with pool.acquire() as conn:
        return await probe_repo.stats_histograms(conn, now, clock)


async def reappearances(pool: asyncpg.Pool) -> dict[str, int]:
    """How often content came back after a removal, per hoster."""
    async with pool.acquire() as conn:
        return {r["hoster"]: r["reappearances"] for r in await probe_repo.recidivism(conn)}
