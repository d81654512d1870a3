"""The 'resolve' stage: received cases → resolving → resolved (route + outbox job) | unresolved.

A transient failure (DNS timeout, SERVFAIL, RDAP 429/5xx) is recorded as an event and raised,
so the claim loop retries with backoff and honours Retry-After; the case stays 'resolving'
and is never concluded unresolvable because a peer was down. "No contact published" and
NXDOMAIN are facts: the case becomes 'unresolved' with the reason, for the hotline's queue.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import asyncpg

from service.db import cases, jobs, resolve_repo
from service.db.jobs import Job
from service.domain.states import CaseState
from service.errors import TransientLookupError
from service.resolve.politeness import PacingDeferral
from service.resolve.record import Resolution
from service.settings import Settings
from service.workers.loop import Done, Outcome, RunAgainAt
from service.workers.resolver_owner import ResolverOwner

log = logging.getLogger(__name__)
ACTOR = "worker:resolve"
WORKABLE = {CaseState.RECEIVED, CaseState.RESOLVING, CaseState.UNRESOLVED}


class ResolveStage(ResolverOwner):
    """Claims 'resolve' jobs; one Resolver (caches, politeness) shared by all of them."""

    kind = "resolve"

    async def handle(self, job: Job) -> Outcome:
        if job.case_id is None:
            return Done()
        async with self.pool.acquire() as conn:
            case = await resolve_repo.case_for_job(conn, job.case_id)
            if case is None or CaseState(case["state"]) not in WORKABLE:
                return Done()  # already resolved or moved on: running twice is harmless
            await _start(conn, job.case_id, CaseState(case["state"]), job.attempts)
        resolver = await self.resolver()
        try:
            # Early attempts wait for every source; after a few, decide with what answers
            # (the missing source is noted on the case) rather than wait out a long outage.
            partial_ok = job.attempts > self.settings.resolve_partial_after_attempts
            resolution = await resolver.resolve(case["url"], accept_partial=partial_ok)
        except PacingDeferral as exc:
            return self._back_for_slot(exc)
        except TransientLookupError as exc:
            await self._deferred(job.case_id, exc)
            raise
        await self._record(job.case_id, resolution)
        return Done()

    def _back_for_slot(self, deferral: PacingDeferral) -> Outcome:
        """A registry slot is reserved for this lookup: come back just before it, one poll
        early (the claim sees the job within a poll interval), as a plain reschedule — no
        backoff, no attempt counted, no event (waiting one's turn is not a failure)."""
        ahead = max((deferral.retry_after or 0.0) - self.settings.worker_poll_interval, 0.0)
        return RunAgainAt(datetime.now(UTC) + timedelta(seconds=ahead))

    async def _deferred(self, case_id: int, exc: TransientLookupError) -> None:
        detail = {"error": str(exc), "retry_after": exc.retry_after}
        async with self.pool.acquire() as conn:
            await cases.add_event(
                conn, case_id, actor=ACTOR, kind="resolution_deferred", detail=detail
            )

    async def _record(self, case_id: int, resolution: Resolution) -> None:
        decision = resolution.decision
        async with self.pool.acquire() as conn, conn.transaction():
            await resolve_repo.store_route(conn, case_id, resolution.route)
            if decision.resolved:
                moved = await cases.transition(
                    conn,
                    case_id,
                    CaseState.RESOLVED,
                    actor=ACTOR,
                    kind="resolution",
                    detail=resolution.detail,
                    stamp="resolved_at",
                    expect=CaseState.RESOLVING,
                )
                if moved is not None:
                    await jobs.enqueue_for_case(conn, "outbox", case_id)
            else:
                await cases.transition(
                    conn,
                    case_id,
                    CaseState.UNRESOLVED,
                    actor=ACTOR,
                    kind="resolution",
                    detail=resolution.detail,
                    expect=CaseState.RESOLVING,
                )


async def _start(conn: asyncpg.Connection, case_id: int, state: CaseState, attempts: int) -> None:
    if state is not CaseState.RESOLVING:
        await cases.transition(
            conn,
            case_id,
            CaseState.RESOLVING,
            actor=ACTOR,
            detail={"attempt": attempts},
            expect=state,
        )


def build(pool: asyncpg.Pool, settings: Settings) -> ResolveStage:
    return ResolveStage(pool, settings)
