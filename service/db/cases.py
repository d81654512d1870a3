"""Cases and their events: intake of reports, state transitions, reading a case."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import asyncpg
import msgspec

from service.db.queries import q
from service.domain.reports import ValidReport
from service.domain.states import CaseState, check_transition

# Timestamp columns a transition may stamp (whitelist: the names go into SQL).
CLOCK_COLUMNS = frozenset(
    {
        "resolved_at",
        "first_notice_at",
        "acknowledged_at",
        "first_gone_at",
        "removed_at",
        "reappeared_at",
        "withdrawn_at",
    }
)
HASH_NAMES = ("sha256", "sha1", "md5", "pdq")
_DEADLOCK_RETRIES = 3


class IntakeResult(msgspec.Struct, frozen=True):
    """What became of one report. A msgspec Struct: a thousand are made per request, in C,
    and the API encodes them as they are ({"index", "status", "case_id"})."""

    index: int
    status: Literal["created", "duplicate", "reopened"]
    case_id: int


async def ingest_reports(
    pool: asyncpg.Pool, reports: list[ValidReport], *, scanner_id: int, actor: str, via: str
) -> list[IntakeResult]:
    """Store a batch of valid reports idempotently; one result per report, in input order.

    A report whose normalised URL and any hash match an existing case is a duplicate of it,
    also when the other case arrives at the same moment from another request.
    """
    if not reports:
        return []
    for attempt in range(_DEADLOCK_RETRIES):
        try:
            # No explicit transaction: the insert is one statement (cases, events and jobs
            # commit together), and the match that may follow only reads. BEGIN and COMMIT
            # would be two more round trips per request for nothing.
            async with pool.acquire() as conn:
                return await _ingest(conn, reports, scanner_id, actor, via)
        except asyncpg.DeadlockDetectedError:
            if attempt == _DEADLOCK_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _ingest(
    conn: asyncpg.Connection, reports: list[ValidReport], scanner_id: int, actor: str, via: str
) -> list[IntakeResult]:
    columns = _columns(reports)
    inserted = await conn.fetch(q("insert_reports"), *columns, scanner_id, actor, via)
    # The first report of the batch with exactly this URL and hash set created the case.
    case_of: dict[int, int] = {row[0]: row[1] for row in inserted}
    created = set(case_of)
    missing = [p for p in range(len(reports)) if p not in case_of]
    if missing:
        case_of.update(await _match_existing(conn, reports, missing))
    return [
        IntakeResult(item.index, "created" if p in created else "duplicate", case_of[p])
        for p, item in enumerate(reports)
    ]


async def _match_existing(
    conn: asyncpg.Connection, reports: list[ValidReport], positions: list[int]
) -> dict[int, int]:
    subset = [reports[p] for p in positions]
    hashes = [r.report.hashes.present() for r in subset]
    rows = await conn.fetch(
        q("match_reports"),
        [r.url.url for r in subset],
        *[[h.get(name) for h in hashes] for name in HASH_NAMES],
        positions,
    )
    return {row["ord"]: row["id"] for row in rows}


def _columns(reports: list[ValidReport]) -> list[list[Any]]:
    hashes = [r.report.hashes for r in reports]
    return [
        [r.url.url for r in reports],
        [r.url.original for r in reports],
        [r.url.host for r in reports],
        [h.sha256 for h in hashes],
        [h.sha1 for h in hashes],
        [h.md5 for h in hashes],
        [h.pdq for h in hashes],
        [r.report.media_type for r in reports],
        [r.report.classification for r in reports],
        [r.report.source_ref for r in reports],
        [r.report.detected_at for r in reports],
    ]


async def transition(
    conn: asyncpg.Connection,
    case_id: int,
    to_state: CaseState,
    *,
    actor: str,
    kind: str = "transition",
    detail: dict[str, Any] | None = None,
    stamp: str | None = None,
    at: datetime | None = None,
    expect: CaseState | set[CaseState] | None = None,
) -> CaseState | None:
    """Move a case to `to_state` and append the event, atomically.

    `stamp` names a clock column set to `at` (default now()) if still empty. `expect` guards
    against acting on stale information: when the case is not in that state nothing happens
    and None is returned. Returns the previous state.
    """
    if stamp is not None and stamp not in CLOCK_COLUMNS:
        raise ValueError(f"unknown clock column {stamp!r}")
    async with conn.transaction():
        current = CaseState(await conn.fetchval(q("case_state_for_update"), case_id))
        allowed = {expect} if isinstance(expect, CaseState) else expect
        if allowed is not None and current not in allowed:
            return None
        check_transition(current, to_state)
        stamp_sql = f", {stamp} = coalesce({stamp}, coalesce($3, now()))" if stamp else ""
        await conn.execute(
            f"UPDATE cases SET state = $2, updated_at = now(){stamp_sql} WHERE id = $1",
            case_id,
            to_state.value,
            *([at] if stamp else []),
        )
        await conn.execute(
            "INSERT INTO case_events (case_id, actor, kind, from_state, to_state, detail)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            case_id,
            actor,
            kind,
            current.value,
            to_state.value,
            detail or {},
        )
        return current


async def transition_many(
    conn: asyncpg.Connection,
    case_ids: list[int],
    to_state: CaseState,
    *,
    actor: str,
    kind: str,
    expect: set[CaseState],
    detail: dict[str, Any] | None = None,
    stamp: str | None = None,
) -> set[int]:
    """`transition` for many cases in one statement; returns the ids that moved.

    Cases not in an `expect` state are left alone (the caller decides what they get).
    """
    if stamp is not None and stamp not in CLOCK_COLUMNS:
        raise ValueError(f"unknown clock column {stamp!r}")
    for state in expect:
        check_transition(state, to_state)
    stamp_sql = f", {stamp} = coalesce(c.{stamp}, now())" if stamp else ""
    rows = await conn.fetch(
        q("transition_many").replace("{stamp}", stamp_sql),
        sorted(set(case_ids)),
        to_state.value,
        [s.value for s in expect],
        actor,
        kind,
        detail or {},
    )
    return {row["id"] for row in rows}


async def add_events(
    conn: asyncpg.Connection,
    case_ids: list[int],
    *,
    actor: str,
    kind: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """The same event, without a state change, on many cases."""
    if case_ids:
        await conn.execute(q("add_events_many"), sorted(case_ids), actor, kind, detail or {})


async def add_event(
    conn: asyncpg.Connection,
    case_id: int,
    *,
    actor: str,
    kind: str,
    detail: dict[str, Any] | None = None,
) -> int:
    event_id: int = await conn.fetchval(q("add_event"), case_id, actor, kind, detail or {})
    return event_id


async def count_by_state(conn: asyncpg.Connection) -> dict[str, int]:
    """How many cases are in each state (states without cases left out)."""
    return {r["state"]: r["n"] for r in await conn.fetch(q("count_cases_by_state"))}


async def cases_per_hoster(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every case with its hoster, clock and sent notice ids, ordered by hoster."""
    rows: list[asyncpg.Record] = await conn.fetch(q("cases_per_hoster"))
    return rows


async def state_for_update(conn: asyncpg.Connection, case_id: int) -> CaseState:
    """The case's state, its row locked until the end of the transaction."""
    return CaseState(await conn.fetchval(q("case_state_for_update"), case_id))


async def database_now(conn: asyncpg.Connection) -> datetime:
    """The database's now() (the transaction's start time), for times compared with it."""
    now: datetime = await conn.fetchval(q("database_now"))
    return now


async def get_case(conn: asyncpg.Connection, case_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(q("get_case"), case_id)
    if row is None:
        return None
    case = dict(row)
    case["events"] = [dict(e) for e in await conn.fetch(q("case_events"), case_id)]
    return case
