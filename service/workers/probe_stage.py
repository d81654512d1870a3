"""The 'probe' stage: re-check a case by hash on its schedule and move it through the lifecycle.

notified/acknowledged/escalated/reappeared/held → gone_pending on the first gone; gone_pending
→ removed when the streak confirms (first_gone_at = first gone of that streak, removed_at =
now, an event and one log line with time to removal on both clocks); gone_pending → back to
the open state it came from when the content is served again; removed → reappeared when a
watch check finds it (a new 'outbox' job, the hoster's recidivism count up). Every check is
stored as an observation (never content); service/usecases/probe.py records checks and moves
(`record_check`, `record_quiet`). The job is rescheduled to the next check time.

`handle_stream` is the claim loop's fast path: a claimed batch is loaded in one query and
probed concurrently (at most `worker_concurrency` fetches, `probe_per_host_concurrency` per
host); as checks finish, those finished together are recorded together — the ones that change
no state (nearly all) in one statement, the few that move a case in the same locked
transaction as `handle`, one case at a time — and handed back to the loop, so a check of a
host that hangs until the probe timeout holds only its own place, never its batch's.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg

from service.domain.schedule import PROBED_STATES, Streak, held_check_due, next_check, react
from service.domain.states import CaseState
from service.logging_setup import case_context
from service.observability import PROBE_VERDICTS
from service.probe.client import make_prober
from service.probe.runner import Prober, ProbeResult
from service.settings import Settings
from service.usecases import probe
from service.usecases.policies import Policies, policies_from
from service.usecases.probe import ProbeCase, QuietCheck, Tracking
from service.usecases.queue import Job
from service.usecases.verdicts import read_placeholder
from service.workers.loop import Done, FinishedTasks, Outcome, RunAgainAt, Saved

log = logging.getLogger(__name__)
T = TypeVar("T")
S = CaseState


class ProbeStage:
    """Claims 'probe' jobs; per-host concurrency is limited within this process."""

    kind = probe.PROBE_JOB

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        prober: Prober | None = None,
        rand: Callable[[], float] = random.random,
        policies: Policies | None = None,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.policy = (policies or policies_from(settings)).checks
        self.prober = prober or make_prober(settings)
        self.rand = rand
        self._hosts: dict[str, asyncio.Semaphore] = {}
        # A host gate as wide as the whole worker never binds: checks then skip it.
        self._gated = settings.probe_per_host_concurrency < settings.worker_concurrency
        # handle_batch's bound on fetches in flight (handle is bounded by the loop instead).
        self._fetches = asyncio.Semaphore(settings.worker_concurrency)

    async def aclose(self) -> None:
        """Called by the runtime at shutdown (it looks for `aclose` on every stage)."""
        await self.prober.close()

    def resources(self) -> AbstractAsyncContextManager[object]:
        """Held by the claim loop while it runs: one keep-alive session for every check."""
        return self.prober.hold()

    async def handle(self, job: Job) -> Outcome:
        assert job.case_id is not None
        case = await probe.load_case(self.pool, job.case_id)
        early = self._without_probe(case)
        if early is not None or case is None:
            return early or Done()
        async with self.prober.hold():
            report = await read_placeholder(self.pool, case.host, case.id, await self._probe(case))
            PROBE_VERDICTS.labels(verdict=str(report.verdict)).inc()
            at = _now()
            quiet = await self._record_quiet(case, report, at)
            if quiet is not None:
                return quiet
            return await self._record(case, report, at)

    def _without_probe(self, case: ProbeCase | None) -> Outcome | None:
        """The outcome of a job that needs no check now (None: probe it)."""
        if case is None or case.state not in PROBED_STATES:
            return Done()
        if case.state is S.HELD:
            due = held_check_due(self.policy, _now(), case.last_checked_at)
            if due > _now():
                return RunAgainAt(due)
        return None

    async def handle_batch(self, jobs: list[Job]) -> dict[int, Outcome | BaseException]:
        """Handle a claimed batch whole (the stream's groups merged)."""
        outcomes: dict[int, Outcome | BaseException] = {}
        async for group in self.handle_stream(jobs):
            outcomes |= group
        return outcomes

    async def handle_stream(
        self, jobs: list[Job]
    ) -> AsyncGenerator[dict[int, Outcome | BaseException], None]:
        """One load for the batch, then its outcomes in groups as the checks finish."""
        settled, due = await self._due(jobs)
        if settled:
            yield settled
        if not due:
            return
        async with self.prober.hold():
            finished = FinishedTasks()
            running = {}
            for job, case in due:
                task = asyncio.create_task(self._timed_probe(case))
                task.add_done_callback(finished.add)
                running[task] = (job, case)
            try:
                while running:
                    # Checks that finish while the previous group is being recorded are
                    # recorded together: the groups grow with the load (group commit).
                    group = [(running.pop(t), t) for t in await finished.take()]
                    yield await self._record_finished(group)
            finally:
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)

    async def _record_finished(
        self,
        finished: list[tuple[tuple[Job, ProbeCase], asyncio.Task[tuple[ProbeResult, datetime]]]],
    ) -> dict[int, Outcome | BaseException]:
        outcomes: dict[int, Outcome | BaseException] = {}
        checked: list[_Checked] = []
        for (job, case), task in finished:
            error = task.exception()
            if error is not None:
                outcomes[job.id] = error
                continue
            report, at = task.result()
            checked.append(_Checked(job, case, report, at, case.streak.after(report.verdict, at)))
        _count_verdicts(checked)
        return outcomes | await self._record_batch(checked)

    async def _due(
        self, jobs: list[Job]
    ) -> tuple[dict[int, Outcome | BaseException], list[tuple[Job, ProbeCase]]]:
        """Load the batch's cases; settle the jobs that need no check, return the others."""
        cases = await probe.load_cases(self.pool, [job.case_id for job in jobs if job.case_id])
        outcomes: dict[int, Outcome | BaseException] = {}
        due: list[tuple[Job, ProbeCase]] = []
        for job in jobs:
            case = cases.get(job.case_id) if job.case_id else None
            early = self._without_probe(case)
            if early is not None or case is None:
                outcomes[job.id] = early or Done()
            else:
                due.append((job, case))
        return outcomes, due

    async def _timed_probe(self, case: ProbeCase) -> tuple[ProbeResult, datetime]:
        with case_context(case.id):
            report = await self._probe(case, self._fetches)
            report = await read_placeholder(self.pool, case.host, case.id, report)
        return report, _now()

    async def _record_batch(self, checked: list[_Checked]) -> dict[int, Outcome | BaseException]:
        """Quiet checks and their jobs' reschedules in one statement; the others locked."""
        if not checked:
            return {}
        quiet = [(c, self._next_quiet(c)) for c in checked if not self._moves(c)]
        try:
            stored = await probe.record_quiet_many(self.pool, [c.quiet(o) for c, o in quiet])
        except Exception as exc:  # nothing of the batch was written: every check retries
            return {c.job.id: exc for c in checked}
        outcomes: dict[int, Outcome | BaseException] = {
            c.job.id: _settled(c.job, outcome, stored[c.case.id])
            for c, outcome in quiet
            if c.case.id in stored
        }
        locked = [c for c in checked if c.case.id not in stored]  # moves, or moved meanwhile
        results = await _each([self._record_locked(c) for c in locked])
        return outcomes | {c.job.id: r for c, r in zip(locked, results, strict=True)}

    def _moves(self, c: _Checked) -> bool:
        reaction = react(c.case.state, c.report.verdict, c.streak, c.case.resume_state, self.policy)
        return bool(reaction.moves)

    async def _record_locked(self, c: _Checked) -> Outcome:
        with case_context(c.case.id):
            return await self._record(c.case, c.report, c.at)

    async def _probe(
        self, case: ProbeCase, fetches: asyncio.Semaphore | None = None
    ) -> ProbeResult:
        if not self._gated:
            async with fetches or nullcontext():
                return await self._check(case)
        host = self._hosts.get(case.host)
        if host is None:
            host = self._hosts[case.host] = asyncio.Semaphore(
                self.settings.probe_per_host_concurrency
            )
        # The host's gate first: a check waiting for a busy host holds no global slot.
        async with host, fetches or nullcontext():
            return await self._check(case)

    async def _check(self, case: ProbeCase) -> ProbeResult:
        """A host served from several networks is checked at each of its addresses."""
        if case.addresses:
            return await self.prober.check(case.url, case.expected, addresses=case.addresses)
        return await self.prober.check(case.url, case.expected)

    async def _record_quiet(
        self, case: ProbeCase, report: ProbeResult, at: datetime
    ) -> Outcome | None:
        """The common case, one statement: no state change. None: take the locking path."""
        streak = case.streak.after(report.verdict, at)
        if react(case.state, report.verdict, streak, case.resume_state, self.policy).moves:
            return None
        stored = await probe.record_quiet(self.pool, case, probe.check_row(report, at), streak)
        if stored is None:
            return None  # the state moved meanwhile (an acknowledgment, …)
        return self._next(case, case.state, Tracking.of(case, streak), at)

    async def _record(self, case: ProbeCase, report: ProbeResult, at: datetime) -> Outcome:
        """A check that moves the case: recorded with the case locked, then scheduled."""
        recorded = await probe.record_check(self.pool, case, report, at, self.policy)
        return self._next(case, recorded.state, recorded.tracking, at)

    def _next(self, case: ProbeCase, state: CaseState, tracking: Tracking, at: datetime) -> Outcome:
        when = next_check(
            self.policy,
            state,
            at,
            clock_start=tracking.cycle_started_at or case.first_notice_at,
            streak=tracking.streak,
            removed_at=tracking.last_removed_at,
            rand=self.rand(),
        )
        return RunAgainAt(when) if when is not None else Done()

    def _next_quiet(self, c: _Checked) -> Outcome:
        """`_next` for a check that moves nothing: the case keeps its state and cycle."""
        case = c.case
        when = next_check(
            self.policy,
            case.state,
            c.at,
            clock_start=case.cycle_started_at or case.first_notice_at,
            streak=c.streak,
            removed_at=case.last_removed_at,
            rand=self.rand(),
        )
        return RunAgainAt(when) if when is not None else Done()


@dataclass(frozen=True)
class _Checked:
    """A probed case of a batch, before its check is recorded."""

    job: Job
    case: ProbeCase
    report: ProbeResult
    at: datetime
    streak: Streak  # the case's streak with this check added

    def quiet(self, outcome: Outcome) -> QuietCheck:
        """The check to store; its job rescheduled in the same statement if it runs again."""
        changed = self.streak if self.streak != self.case.streak else None
        run_at = outcome.at if isinstance(outcome, RunAgainAt) else None
        row = probe.check_row(self.report, self.at)
        return QuietCheck(self.case, row, changed, self.job.id, self.job.claim_id, run_at)


def _settled(job: Job, outcome: Outcome, rescheduled: bool) -> Outcome:
    """A quiet check's outcome once stored: a reschedule is already saved (or its lease
    was lost to another worker, which now holds the job); anything else the loop saves."""
    if not isinstance(outcome, RunAgainAt):
        return outcome
    if not rescheduled:
        log.warning("%s job %s: lease lost before the outcome was saved", job.kind, job.id)
    return Saved()


def _count_verdicts(checked: list[_Checked]) -> None:
    """The /metrics counter, once per verdict and batch rather than once per check."""
    for verdict, n in Counter(c.report.verdict for c in checked).items():
        PROBE_VERDICTS.labels(verdict=str(verdict)).inc(n)


async def _each(calls: list[Coroutine[None, None, T]]) -> list[T | BaseException]:
    """Run concurrently; one call's exception is its result, not the batch's failure."""
    return await asyncio.gather(*calls, return_exceptions=True)


def _now() -> datetime:
    return datetime.now(UTC)


def build(pool: asyncpg.Pool, settings: Settings, policies: Policies) -> ProbeStage:
    return ProbeStage(pool, settings, policies=policies)
