"""Reading cases outside a stage: one case with its events (the hotline's view), how many
cases are in each state (metrics, the demo's progress line) and every case per hoster (the
demo's summary table), and checking the tamper-evident event chains (`takedown audit verify`)."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.db import cases
from service.db.audit import AuditReport, verify_chains

__all__ = ["AuditReport", "case_with_events", "cases_per_hoster", "counts_by_state", "verify"]


async def case_with_events(pool: asyncpg.Pool, case_id: int) -> dict[str, Any] | None:
    """The case's row and its events (the hotline's view of GET /api/v1/cases/{id})."""
    async with pool.acquire() as conn:
        return await cases.get_case(conn, case_id)


async def counts_by_state(pool: asyncpg.Pool) -> dict[str, int]:
    """How many cases are in each state (states without cases left out)."""
    async with pool.acquire() as conn:
        return await cases.count_by_state(conn)


async def cases_per_hoster(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """Every case with its hoster, clock and sent notice ids, ordered by hoster."""
    async with pool.acquire() as conn:
        return await cases.cases_per_hoster(conn)


async def verify(pool: asyncpg.Pool, case_id: int | None = None) -> AuditReport:
    """Recompute the event hash chain of every case (or of one): where it breaks, if anywhere."""
    async with pool.acquire() as conn:
        return await verify_chains(conn, case_id=case_id)
