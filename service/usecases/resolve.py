"""Resolution as it changes a case: taken up, deferred by a transient failure, concluded.

The 'resolve' stage asks the resolver (service.resolve.resolver) who can remove the content;
these functions record what that means for the cases of a claimed batch, set-based:
`start_resolving` (received/unresolved → resolving, each with its event, one statement for the
batch) and `record_resolutions` (in one transaction for the lookups that finished together:
transient failures noted as events, the cases staying resolving; routes stored; resolved cases
stamped and given an 'outbox' job, the others unresolved for the hotline's queue, each move
with its hash-chained event; the finished jobs deleted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from service.db import jobs, resolve_repo
from service.db.jobs import Job
from service.db.resolve_repo import ContactRuleRow, HotlineRow
from service.errors import TransientLookupError
from service.resolve.record import Resolution


@dataclass(frozen=True)
class CaseToResolve:
    """A case the resolve stage works on: its id and URL."""

    id: int
    url: str


@dataclass(frozen=True)
class Concluded:
    """A lookup that came to a decision, for its job's case."""

    job: Job
    case_id: int
    resolution: Resolution


async def start_resolving(
    pool: asyncpg.Pool, batch: list[Job], *, actor: str
) -> dict[int, CaseToResolve]:
    """Move the batch's workable cases to 'resolving' (an event with the job's attempt), in one
    statement; per job id, its case. A job left out has nothing to do (its case was resolved
    or moved on meanwhile: running twice is harmless)."""
    attempts = {job.case_id: job.attempts for job in batch if job.case_id is not None}
    if not attempts:
        return {}
    async with pool.acquire() as conn:
        urls = await resolve_repo.start_many(conn, attempts, actor=actor)
    return {
        job.id: CaseToResolve(job.case_id, urls[job.case_id])
        for job in batch
        if job.case_id is not None and job.case_id in urls
    }


async def record_resolutions(
    pool: asyncpg.Pool,
    concluded: list[Concluded],
    deferred: dict[int, TransientLookupError],
    *,
    actor: str,
) -> set[int]:
    """Record lookups that finished together, in one transaction: `deferred` (case id → its
    transient failure) as events, the cases staying 'resolving'; each concluded case still
    'resolving' gets its route and moves — resolved (an 'outbox' job) or unresolved (hotline
    queue) — with its event; the concluded jobs are deleted. Returns the ids of the jobs
    deleted (a missing one lost its lease to another worker, which now holds it)."""
    ids = [c.case_id for c in concluded]
    async with pool.acquire() as conn, conn.transaction():
        # Every case of the group locked at once, in id order: the order all writers keep.
        resolving = await resolve_repo.lock_resolving(conn, [*ids, *deferred])
        await resolve_repo.add_deferrals(conn, _deferral_details(deferred), actor=actor)
        mine = [c for c in concluded if c.case_id in resolving]
        await resolve_repo.store_routes(conn, {c.case_id: c.resolution.route for c in mine})
        moved = await resolve_repo.conclude_many(conn, _decisions(mine), actor=actor)
        resolved = [c.case_id for c in mine if c.resolution.decision.resolved]
        await jobs.enqueue_for_cases(conn, "outbox", [i for i in resolved if i in moved])
        return await jobs.finish_many(conn, [c.job for c in concluded])


def _deferral_details(deferred: dict[int, TransientLookupError]) -> dict[int, dict[str, Any]]:
    return {
        case_id: {"error": str(exc), "retry_after": exc.retry_after}
        for case_id, exc in deferred.items()
    }


def _decisions(concluded: list[Concluded]) -> dict[int, tuple[bool, dict[str, Any]]]:
    return {c.case_id: (c.resolution.decision.resolved, c.resolution.detail) for c in concluded}


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
