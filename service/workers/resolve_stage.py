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

from service.errors import TransientLookupError
from service.resolve.politeness import PacingDeferral
from service.settings import Settings
from service.usecases import resolve as resolution
from service.usecases.queue import Job
from service.workers.loop import Done, Outcome, RunAgainAt
from service.workers.resolver_owner import ResolverOwner

log = logging.getLogger(__name__)
ACTOR = "worker:resolve"


class ResolveStage(ResolverOwner):
    """Claims 'resolve' jobs; one Resolver (caches, politeness) shared by all of them."""

    kind = "resolve"

    async def handle(self, job: Job) -> Outcome:
        if job.case_id is None:
            return Done()
        case = await resolution.start_resolving(
            self.pool, job.case_id, attempt=job.attempts, actor=ACTOR
        )
        if case is None:
            return Done()
        resolver = await self.resolver()
        try:
            # Early attempts wait for every source; after a few, decide with what answers
            # (the missing source is noted on the case) rather than wait out a long outage.
            partial_ok = job.attempts > self.settings.resolve_partial_after_attempts
            found = await resolver.resolve(case.url, accept_partial=partial_ok)
        except PacingDeferral as exc:
            return self._back_for_slot(exc)
        except TransientLookupError as exc:
            await resolution.record_deferral(self.pool, job.case_id, exc, actor=ACTOR)
            raise
        await resolution.record_resolution(self.pool, job.case_id, found, actor=ACTOR)
        return Done()

    def _back_for_slot(self, deferral: PacingDeferral) -> Outcome:
        """A registry slot is reserved for this lookup: come back just before it, one poll
        early (the claim sees the job within a poll interval), as a plain reschedule — no
        backoff, no attempt counted, no event (waiting one's turn is not a failure)."""
        ahead = max((deferral.retry_after or 0.0) - self.settings.worker_poll_interval, 0.0)
        return RunAgainAt(datetime.now(UTC) + timedelta(seconds=ahead))


def build(pool: asyncpg.Pool, settings: Settings) -> ResolveStage:
    return ResolveStage(pool, settings)
