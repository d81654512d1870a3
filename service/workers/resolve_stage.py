"""The 'resolve' stage: received cases → resolving → resolved (route + outbox job) | unresolved.

A claimed batch is handled whole (`handle_stream`): its cases move to 'resolving' in one
statement, their URLs are looked up concurrently with the one shared Resolver, and as the
lookups finish, those that finished together are recorded together in one transaction
(service/usecases/resolve.py `record_resolutions`: routes, moves and their events, outbox jobs,
the jobs' deletion) — a lookup parked for a throttled registry holds only its own place, never
the recording of its batch-mates. The batches in flight share their transactions: lookups of
any batch finishing while one is written go into the next (group commit, `_GroupCommit`).

A transient failure (DNS timeout, SERVFAIL, RDAP 429/5xx) is recorded as an event and its job
retried by the claim loop with backoff, honouring Retry-After; the case stays 'resolving' and
is never concluded unresolvable because a peer was down. "No contact published" and NXDOMAIN
are facts: the case becomes 'unresolved' with the reason, for the hotline's queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from service.errors import TransientLookupError
from service.logging_setup import case_context
from service.resolve.politeness import PacingDeferral
from service.resolve.record import Resolution
from service.resolve.resolver import Resolver
from service.settings import Settings
from service.usecases import resolve as resolution
from service.usecases.queue import Job
from service.usecases.resolve import CaseToResolve, Concluded
from service.workers.loop import Done, FinishedTasks, Outcome, RunAgainAt, Saved
from service.workers.resolver_owner import ResolverOwner

log = logging.getLogger(__name__)
ACTOR = "worker:resolve"
Results = dict[int, Outcome | BaseException]
Lookup = asyncio.Task[Resolution]


class ResolveStage(ResolverOwner):
    """Claims 'resolve' jobs; one Resolver (caches, politeness) shared by all of them."""

    kind = "resolve"

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        super().__init__(pool, settings)
        self._recorder = _GroupCommit(pool)

    async def handle(self, job: Job) -> Outcome:
        """One job, as a batch of one (the claim loop uses `handle_stream`)."""
        results: Results = {}
        async for group in self.handle_stream([job]):
            results |= group
        result = results.get(job.id, Done())
        if isinstance(result, BaseException):
            raise result
        return result

    async def handle_stream(self, jobs: list[Job]) -> AsyncGenerator[Results, None]:
        """The batch taken up in one statement, then its outcomes in groups as lookups finish."""
        cases = await resolution.start_resolving(self.pool, jobs, actor=ACTOR)
        idle: Results = {job.id: Done() for job in jobs if job.id not in cases}
        if idle:
            yield idle
        if not cases:
            return
        resolver = await self.resolver()
        finished = FinishedTasks()
        running: dict[Lookup, tuple[Job, CaseToResolve]] = {}
        for job in jobs:
            if job.id in cases:
                task = asyncio.create_task(self._look_up(resolver, job, cases[job.id]))
                task.add_done_callback(finished.add)
                running[task] = (job, cases[job.id])
        try:
            while running:
                # Lookups finishing while the previous group is recorded are recorded together:
                # the groups grow with the load (group commit).
                group = [(running.pop(t), t) for t in await finished.take()]
                yield await self._record(group)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _look_up(self, resolver: Resolver, job: Job, case: CaseToResolve) -> Resolution:
        with case_context(case.id):
            # Early attempts wait for every source; after a few, decide with what answers
            # (the missing source is noted on the case) rather than wait out a long outage.
            partial_ok = job.attempts > self.settings.resolve_partial_after_attempts
            return await resolver.resolve(case.url, accept_partial=partial_ok)

    async def _record(self, group: list[tuple[tuple[Job, CaseToResolve], Lookup]]) -> Results:
        """The group's lookups recorded in one transaction; per job, what the loop does next."""
        results: Results = {}
        concluded: list[Concluded] = []
        deferred: dict[int, TransientLookupError] = {}
        for (job, case), task in group:
            error = task.exception()
            if isinstance(error, PacingDeferral):
                results[job.id] = self._back_for_slot(error)
            elif error is not None:
                results[job.id] = error  # retried by the loop (TransientLookupError: quietly)
                if isinstance(error, TransientLookupError):
                    deferred[case.id] = error
            else:
                concluded.append(Concluded(job, case.id, task.result()))
        if not (concluded or deferred):
            return results
        try:
            finished = await self._recorder.record(concluded, deferred)
        except Exception as exc:  # nothing of the group was written: its jobs retry
            return results | {c.job.id: exc for c in concluded}
        return results | {c.job.id: _saved(c.job, finished) for c in concluded}

    def _back_for_slot(self, deferral: PacingDeferral) -> Outcome:
        """A registry slot is reserved for this lookup: come back just before it, one poll
        early (the claim sees the job within a poll interval), as a plain reschedule — no
        backoff, no attempt counted, no event (waiting one's turn is not a failure)."""
        ahead = max((deferral.retry_after or 0.0) - self.settings.worker_poll_interval, 0.0)
        return RunAgainAt(datetime.now(UTC) + timedelta(seconds=ahead))


class _GroupCommit:
    """The recordings of every batch in flight, written together: while one transaction is
    being written, the lookups that finish meanwhile — in any batch — wait for the next one,
    which whoever comes first writes for all of them (leader and followers). A batch alone
    would commit a group of one or two at a time whenever its lookups finish far apart."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._writing = asyncio.Lock()
        self._queue: list[_Queued] = []

    async def record(
        self, concluded: list[Concluded], deferred: dict[int, TransientLookupError]
    ) -> set[int]:
        """Record these with whatever else is waiting; the ids of the jobs deleted."""
        queued = _Queued(concluded, deferred, asyncio.get_running_loop().create_future())
        self._queue.append(queued)
        async with self._writing:
            if not queued.done.done():
                await self._write_queue()
        finished, error = await queued.done
        if error is not None:
            raise error
        return finished

    async def _write_queue(self) -> None:
        taken, self._queue = self._queue, []
        outcome: tuple[set[int], Exception | None] = (set(), RuntimeError("not recorded"))
        try:
            concluded = [c for q in taken for c in q.concluded]
            deferred = {i: e for q in taken for i, e in q.deferred.items()}
            finished = await resolution.record_resolutions(
                self.pool, concluded, deferred, actor=ACTOR
            )
            outcome = (finished, None)
        except Exception as exc:  # nothing was written: every job of it retries
            outcome = (set(), exc)
        finally:  # also when cancelled: no follower waits forever
            for q in taken:
                if not q.done.done():
                    q.done.set_result(outcome)


@dataclass(frozen=True)
class _Queued:
    concluded: list[Concluded]
    deferred: dict[int, TransientLookupError]
    done: asyncio.Future[tuple[set[int], Exception | None]]


def _saved(job: Job, finished: set[int]) -> Outcome:
    """A concluded job was deleted with its case's recording, unless another worker took its
    lease meanwhile (that worker now holds the job; the case's state tells it what is left)."""
    if job.id not in finished:
        log.warning("%s job %s: lease lost before the outcome was saved", job.kind, job.id)
    return Saved()


def build(pool: asyncpg.Pool, settings: Settings) -> ResolveStage:
    return ResolveStage(pool, settings)
