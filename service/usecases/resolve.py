"""Resolution as it changes a case: started, deferred by a transient failure, concluded.

The 'resolve' stage asks the resolver (service.resolve.resolver) who can remove the content;
these functions record what that means for the case, each in its own transaction with its
event: `start_resolving` (received/unresolved → resolving), `record_deferral` (a peer was
down: an event, the case stays resolving), `record_resolution` (the route is stored; resolved
cases get an 'outbox' job, the others become unresolved for the hotline's queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from service.db import cases, jobs, resolve_repo
from service.db.resolve_repo import ContactRuleRow, HotlineRow
from service.domain.states import CaseState
from service.errors import TransientLookupError
from service.resolve.record import Resolution

WORKABLE = {CaseState.RECEIVED, CaseState.RESOLVING, CaseState.UNRESOLVED}


@dataclass(frozen=True)
class CaseToResolve:
    """A case the resolve stage works on: its id and URL."""

    id: int
    url: str


async def start_resolving(
    pool: asyncpg.Pool, case_id: int, *, attempt: int, actor: str
) -> CaseToResolve | None:
    """Move a workable case to 'resolving' (event with the attempt); None: nothing to do."""
    async with pool.acquire() as conn:
        case = await resolve_repo.case_for_job(conn, case_id)
        if case is None or CaseState(case["state"]) not in WORKABLE:
            return None  # already resolved or moved on: running twice is harmless
        state = CaseState(case["state"])
        if state is not CaseState.RESOLVING:
            await cases.transition(
                conn,
                case_id,
                CaseState.RESOLVING,
                actor=actor,
                detail={"attempt": attempt},
                expect=state,
            )
    return CaseToResolve(case_id, case["url"])


async def record_deferral(
    pool: asyncpg.Pool, case_id: int, exc: TransientLookupError, *, actor: str
) -> None:
    """A transient lookup failure: noted on the case, which stays 'resolving'."""
    detail = {"error": str(exc), "retry_after": exc.retry_after}
    async with pool.acquire() as conn:
        await cases.add_event(conn, case_id, actor=actor, kind="resolution_deferred", detail=detail)


async def record_resolution(
    pool: asyncpg.Pool, case_id: int, resolution: Resolution, *, actor: str
) -> None:
    """Store the route; resolved → 'outbox' job, no contact → unresolved (hotline queue)."""
    resolved = resolution.decision.resolved
    async with pool.acquire() as conn, conn.transaction():
        await resolve_repo.store_route(conn, case_id, resolution.route)
        moved = await cases.transition(
            conn,
            case_id,
            CaseState.RESOLVED if resolved else CaseState.UNRESOLVED,
            actor=actor,
            kind="resolution",
            detail=resolution.detail,
            stamp="resolved_at" if resolved else None,
            expect=CaseState.RESOLVING,
        )
        if resolved and moved is not None:
            await jobs.enqueue_for_case(conn, "outbox", case_id)


# The contact book and partner hotlines, as the hotline edits them (CLI and API): rules win
# over lookups at the next resolution; no case changes here.


async def contact_rules(pool: asyncpg.Pool) -> list[ContactRuleRow]:
    """Every contact-book rule."""
    async with pool.acquire() as conn:
        return await resolve_repo.all_rules(conn)


async def add_contact_rule(pool: asyncpg.Pool, **rule: Any) -> int:
    """Add a rule (one selector, its effects); its id."""
    async with pool.acquire() as conn:
        return await resolve_repo.add_rule(conn, **rule)


async def remove_contact_rule(pool: asyncpg.Pool, rule_id: int) -> bool:
    """Remove a rule; False when there was none."""
    async with pool.acquire() as conn:
        return await resolve_repo.remove_rule(conn, rule_id)


async def hotlines(pool: asyncpg.Pool) -> list[HotlineRow]:
    """Every partner hotline."""
    async with pool.acquire() as conn:
        return await resolve_repo.all_hotlines(conn)


async def remove_hotline(pool: asyncpg.Pool, country: str) -> bool:
    """Remove a country's hotline; False when there was none."""
    async with pool.acquire() as conn:
        return await resolve_repo.remove_hotline(conn, country)
