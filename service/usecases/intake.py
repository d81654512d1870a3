"""Intake of scanners' reports (API and `takedown import`), around the idempotent store.

Before storing: a report carrying a withdrawn hash is answered `rejected` with the
withdrawal's reason and stored nowhere. After storing: a duplicate of a case whose content was
removed and whose watch after removal has ended (no re-check is scheduled any more) reopens
that case on the reappeared path — state `reappeared`, a new notice, re-checks from a new
cycle — and is answered `reopened` instead of `duplicate`. A duplicate of a case still being
watched stays a duplicate: the watch will see the content if it is back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from service.db import cases, jobs, withdraw_repo
from service.db.cases import IntakeResult, ingest_reports
from service.domain.reports import ValidReport
from service.domain.states import CaseState

__all__ = ["IntakeResult", "Refused", "Submitted", "submit_reports"]


@dataclass(frozen=True)
class Refused:
    """A valid report the hotline will not take: its hash was withdrawn."""

    index: int
    hash: str
    reason: str


@dataclass(frozen=True)
class Submitted:
    """Per report: stored (created, duplicate, reopened) or refused."""

    stored: list[IntakeResult]
    refused: list[Refused]


async def submit_reports(
    pool: asyncpg.Pool, reports: list[ValidReport], *, scanner_id: int, actor: str, via: str
) -> Submitted:
    """Store the reports (idempotently), refusing withdrawn hashes and reopening old cases."""
    refused, accepted = await _withdrawn(pool, reports)
    stored = await ingest_reports(pool, accepted, scanner_id=scanner_id, actor=actor, via=via)
    duplicates = [s.case_id for s in stored if s.status == "duplicate"]
    if duplicates:
        reopened = await reopen_removed(pool, duplicates, actor=actor, via=via)
        stored = [
            msgspec.structs.replace(s, status="reopened") if s.case_id in reopened else s
            for s in stored
        ]
    return Submitted(stored, refused)


async def _withdrawn(
    pool: asyncpg.Pool, reports: list[ValidReport]
) -> tuple[list[Refused], list[ValidReport]]:
    async with pool.acquire() as conn:
        found = await withdraw_repo.withdrawn_among(conn, [r.report.hashes for r in reports])
    if not found:
        return [], reports
    refused = [
        Refused(reports[p].index, f"{row['algorithm']}:{row['digest']}", row["reason"])
        for p, row in sorted(found.items())
    ]
    return refused, [r for p, r in enumerate(reports) if p not in found]


async def reopen_removed(
    pool: asyncpg.Pool, case_ids: list[int], *, actor: str, via: str
) -> set[int]:
    """Reopen those of the cases that were removed and are no longer watched."""
    async with pool.acquire() as conn, conn.transaction():
        found = await withdraw_repo.reopen_candidates(conn, case_ids)
        for case_id, last_removed in found.items():
            detail: dict[str, Any] = {"via": via, "reported_again": True}
            if last_removed is not None:
                detail["removed_at"] = last_removed.isoformat()
            await cases.transition(
                conn, case_id, CaseState.REAPPEARED, actor=actor, kind="reopened",
                detail=detail, stamp="reappeared_at", expect=CaseState.REMOVED,
            )  # fmt: skip
            await withdraw_repo.restart_tracking(conn, case_id)
            # The reappeared path: a new notice that says the content was removed before.
            await jobs.enqueue_for_case(conn, "outbox", case_id)
    return set(found)
