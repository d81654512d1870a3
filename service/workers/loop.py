"""The claim loop every stage runs.

Claim due jobs with FOR UPDATE SKIP LOCKED and a lease, keep the lease alive with a heartbeat
while handling, persist the outcome under asyncio.shield (a cancelled worker still records what
it did), stop when the stop Event is set (signals only set it), and drain in-flight work within
a timeout. A job whose worker died is due again when its lease runs out.

A stage may also implement `handle_batch` (see `BatchStage`): the loop then hands it each
claimed batch whole and saves all the outcomes in one statement per outcome kind, so the
database round trips of a job are shared by the batch. It keeps up to `concurrency + 2·batch`
jobs claimed (batches ahead, so their database work overlaps the handling of the others);
such a stage bounds its own concurrent work (the probe stage: `concurrency` fetches).
A stage with `handle_stream` (see `StreamStage`; the probe stage) yields a batch's outcomes
in groups as its jobs finish: each group is saved and its jobs leave the claimed window at
once, so the loop claims more work while a slow member of the batch is still running —
no free slot waits for the slowest job of a batch (a re-check of a host that hangs until
the probe timeout, while the rest of its batch finished long ago).
A job that waits for someone else (a registry's pacing, another job's lookup of the same
network) marks the wait with `service.parking.parked()`: it then gives its slot back, and the
loop may run other jobs meanwhile, up to `PARKED_PER_SLOT · concurrency` parked jobs; for a
batch or stream stage (the resolve stage), parked jobs do not count against its claimed window.
An outcome `Saved` tells the loop the stage stored it already. A stage may also offer
`resources()`, an async context manager the loop holds open while it runs (the probe
stage's keep-alive HTTP session: new connections per check cost 3x).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncGenerator, Coroutine, Mapping
from contextlib import aclosing, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg

from service import parking
from service.domain.backoff import exponential_backoff
from service.errors import TakedownError
from service.logging_setup import case_context
from service.settings import Settings
from service.usecases import queue as job_store
from service.usecases.queue import Job

log = logging.getLogger(__name__)
# Failures of a peer or of the database connection: retried without a stack trace.
_TRANSPORT_ERRORS = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)
# Parked jobs a loop may hold per slot: each holds only a lease and a task.
PARKED_PER_SLOT = 8


@dataclass(frozen=True)
class Done:
    """The job is finished (it is deleted unless a new run was requested meanwhile)."""


@dataclass(frozen=True)
class RunAgainAt:
    """The job has more to do at `at` (re-check schedules, gathering windows)."""

    at: datetime


@dataclass(frozen=True)
class RetryAfter:
    """A transient failure: try again after `delay`."""

    delay: timedelta
    error: str


@dataclass(frozen=True)
class Saved:
    """The stage already stored the job's outcome itself, in the same statement as its own
    writes and under the same claim check (the probe stage's batched reschedules)."""


Outcome = Done | RunAgainAt | RetryAfter | Saved


class Stage(Protocol):
    """One kind of work. `handle` must be idempotent: a job can run twice after a crash."""

    kind: str

    async def handle(self, job: Job) -> Outcome: ...


class BatchStage(Stage, Protocol):
    """A stage that handles a claimed batch at once.

    `handle_batch` returns, per job id, an Outcome or the exception that job failed with
    (retried like an exception raised by `handle`); a job left out is retried too.
    """

    async def handle_batch(self, jobs: list[Job]) -> Mapping[int, Outcome | BaseException]: ...


class StreamStage(Stage, Protocol):
    """A stage that handles a claimed batch and yields its outcomes as its jobs finish.

    Each yielded mapping holds the outcomes (or exceptions) of some of the batch's jobs; the
    loop saves them and frees their places before asking for the next group. A job never
    yielded is retried, as with `handle_batch`.
    """

    def handle_stream(
        self, jobs: list[Job]
    ) -> AsyncGenerator[Mapping[int, Outcome | BaseException], None]: ...


class FinishedTasks:
    """A stage's tasks as they finish, taken in groups: a `handle_stream` records and yields
    each group (the probe and resolve stages). One done-callback per task: waiting with
    `asyncio.wait` would re-register on every pending task each time, O(n²) per batch."""

    def __init__(self) -> None:
        self._done: list[asyncio.Task[Any]] = []
        self._ready = asyncio.Event()

    def add(self, task: asyncio.Task[Any]) -> None:
        self._done.append(task)
        self._ready.set()

    async def take(self) -> list[asyncio.Task[Any]]:
        """Every task finished since the last call (waits for at least one)."""
        await self._ready.wait()
        self._ready.clear()
        taken, self._done = self._done, []
        return taken


@dataclass(frozen=True)
class LoopConfig:
    lease: timedelta
    batch: int
    concurrency: int
    poll_interval: float
    drain_timeout: float
    retry_base: timedelta
    retry_max: timedelta


def worker_name(stage: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{stage}"


def backoff(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential backoff: base, 2·base, 4·base, … up to cap (never overflowing)."""
    return exponential_backoff(attempts, base, cap)


class ClaimLoop:
    """Runs one stage until `stop` is set."""

    def __init__(
        self, pool: asyncpg.Pool, stage: Stage, config: LoopConfig, stop: asyncio.Event
    ) -> None:
        self.pool = pool
        self.stage = stage
        self.config = config
        self.stop = stop
        self.name = worker_name(stage.kind)
        self.in_flight: dict[int, Job] = {}
        self.wakeup = asyncio.Event()
        self.lot = parking.ParkingLot(self.wakeup.set)
        self.handled = 0
        self.streamed = callable(getattr(stage, "handle_stream", None))
        self.batched = self.streamed or callable(getattr(stage, "handle_batch", None))
        # A batch stage may claim more jobs at a time than `worker_batch` (`claim_batch`): the
        # outbox, whose concurrent batches would only queue for the same open notices' locks,
        # does best with few large batches (its statements then serve hundreds of cases).
        self.batch: int = getattr(stage, "claim_batch", None) or config.batch

    async def run(self) -> None:
        resources = getattr(self.stage, "resources", None)
        async with resources() if callable(resources) else nullcontext():
            await self._run()

    async def _run(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while not self.stop.is_set():
                free = self._free(tasks)
                claimed = await self._claim(min(free, self.batch)) if free > 0 else []
                for work in self._work(claimed):
                    task = asyncio.create_task(work)
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(lambda _t: self.wakeup.set())
                if not claimed or free <= len(claimed):
                    await self._wait_for_work()
        finally:
            await self._drain(tasks)
            heartbeat.cancel()

    def _free(self, tasks: set[asyncio.Task[None]]) -> int:
        if self.batched:
            # Claimed jobs whose work is parked hold no place in the window (the resolve
            # stage's lookups waiting for a registry); the probe stage never parks.
            window = self.config.concurrency + 2 * self.batch
            busy = len(self.in_flight) - self.lot.parked
            most = window + self.config.concurrency * PARKED_PER_SLOT
            return min(window - busy, most - len(self.in_flight))
        busy = len(tasks) - self.lot.parked
        most = self.config.concurrency * (1 + PARKED_PER_SLOT)
        return min(self.config.concurrency - busy, most - len(tasks))

    def _work(self, claimed: list[Job]) -> list[Coroutine[None, None, None]]:
        if not claimed:
            return []
        if self.batched:
            return [self._handle_batch(claimed)]
        return [self._handle(job) for job in claimed]

    async def _claim(self, limit: int) -> list[Job]:
        try:
            async with self.pool.acquire() as conn:
                claimed = await job_store.claim(
                    conn, self.stage.kind, limit, self.name, self.config.lease
                )
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            log.warning("%s: cannot claim (%s); will retry", self.stage.kind, exc)
            return []
        for job in claimed:
            self.in_flight[job.id] = job
        return claimed

    async def _wait_for_work(self) -> None:
        self.wakeup.clear()
        waiters = [asyncio.create_task(self.stop.wait()), asyncio.create_task(self.wakeup.wait())]
        await asyncio.wait(
            waiters, timeout=self.config.poll_interval, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()

    async def _handle(self, job: Job) -> None:
        parking.enter(self.lot)  # this task's own context: its waits park in this loop
        try:
            outcome = await self._outcome(job)
            await asyncio.shield(self._persist(job, outcome))
            self.handled += 1
        finally:
            self.in_flight.pop(job.id, None)

    async def _outcome(self, job: Job) -> Outcome:
        try:
            # Log lines written while handling carry the case id (JSON logs).
            with case_context(job.case_id) if job.case_id else nullcontext():
                return await self.stage.handle(job)
        except Exception as exc:  # a bug must not kill the worker; the job waits longer
            return self._failed(job, exc)

    def _failed(self, job: Job, exc: BaseException) -> RetryAfter:
        """Transient failures retry quietly; others are logged, and retry with backoff too."""
        if isinstance(exc, TakedownError):
            if not exc.transient:
                log.warning("%s job %s failed: %s", job.kind, job.id, exc)
        elif not isinstance(exc, _TRANSPORT_ERRORS):
            log.error("%s job %s crashed", job.kind, job.id, exc_info=exc)
        return self._retry(job, exc)

    def _retry(self, job: Job, exc: BaseException) -> RetryAfter:
        retry_after = getattr(exc, "retry_after", None)
        delay = backoff(job.attempts, self.config.retry_base, self.config.retry_max)
        if retry_after:
            delay = max(delay, timedelta(seconds=float(retry_after)))
        return RetryAfter(delay=delay, error=f"{type(exc).__name__}: {exc}")

    async def _persist(self, job: Job, outcome: Outcome) -> None:
        if isinstance(outcome, Saved):
            return
        async with self.pool.acquire() as conn:
            if isinstance(outcome, Done):
                kept = await job_store.finish(conn, job)
            elif isinstance(outcome, RunAgainAt):
                kept = await job_store.reschedule(conn, job, outcome.at)
            else:
                kept = await job_store.retry(conn, job, outcome.delay, outcome.error)
        if not kept:
            log.warning("%s job %s: lease lost before the outcome was saved", job.kind, job.id)

    async def _handle_batch(self, jobs: list[Job]) -> None:
        parking.enter(self.lot)  # the stage's tasks for this batch park in this loop
        waiting = {job.id: job for job in jobs}
        try:
            async with aclosing(self._outcome_groups(jobs)) as groups:
                async for results in groups:
                    await self._settle(
                        waiting, [waiting[i] for i in results if i in waiting], results
                    )
            # A job the stage never answered for is retried rather than lost.
            await self._settle(waiting, list(waiting.values()), {})
        finally:
            for job_id in waiting:
                self.in_flight.pop(job_id, None)

    async def _settle(
        self,
        waiting: dict[int, Job],
        chosen: list[Job],
        results: Mapping[int, Outcome | BaseException],
    ) -> None:
        """Save the outcomes of `chosen` (a job without one in `results` is retried) and
        free their places in the claimed window."""
        pairs: list[tuple[Job, Outcome]] = []
        for job in chosen:
            result = results.get(job.id, LookupError("the stage returned no outcome"))
            pairs.append(
                (job, self._failed(job, result) if isinstance(result, BaseException) else result)
            )
        if not pairs:
            return
        await asyncio.shield(self._persist_many(pairs))
        self.handled += len(pairs)
        for job in chosen:
            del waiting[job.id]
            self.in_flight.pop(job.id, None)
        self.wakeup.set()  # places freed: the claimer may take more work now

    async def _outcome_groups(
        self, jobs: list[Job]
    ) -> AsyncGenerator[Mapping[int, Outcome | BaseException], None]:
        """The stage's outcome groups; a failure of the whole stage fails its unsaved jobs."""
        answered: set[int] = set()
        try:
            if self.streamed:
                stream: StreamStage = self.stage  # type: ignore[assignment]  # checked in __init__
                async with aclosing(stream.handle_stream(jobs)) as groups:
                    async for group in groups:
                        answered.update(group)
                        yield group
            else:
                batch: BatchStage = self.stage  # type: ignore[assignment]  # checked in __init__
                yield await batch.handle_batch(jobs)
        except Exception as exc:  # every job not yet answered retries
            yield {job.id: exc for job in jobs if job.id not in answered}

    async def _persist_many(self, outcomes: list[tuple[Job, Outcome]]) -> None:
        """One statement per outcome kind; a job whose lease was lost is left to its new holder."""
        done = [job for job, o in outcomes if isinstance(o, Done)]
        later = [(job, o.at) for job, o in outcomes if isinstance(o, RunAgainAt)]
        failed = [(j, o.delay, o.error) for j, o in outcomes if isinstance(o, RetryAfter)]
        if not (done or later or failed):
            return  # every outcome Saved by the stage
        try:
            async with self.pool.acquire() as conn:
                kept = await job_store.finish_many(conn, done)
                kept |= await job_store.reschedule_many(conn, later)
                kept |= await job_store.retry_many(conn, failed)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("%s: outcomes not saved (%s); due again at lease end", self.stage.kind, exc)
            return
        for job, outcome in outcomes:
            if job.id not in kept and not isinstance(outcome, Saved):
                log.warning("%s job %s: lease lost before the outcome was saved", job.kind, job.id)

    async def _heartbeat(self) -> None:
        interval = max(self.config.lease.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.pool.acquire() as conn:
                    await job_store.heartbeat(
                        conn, list(self.in_flight.values()), self.config.lease
                    )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("%s: heartbeat failed (%s)", self.stage.kind, exc)

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        if not tasks:
            return
        log.info("%s: draining %d in-flight jobs", self.stage.kind, len(tasks))
        _done, pending = await asyncio.wait(tasks, timeout=self.config.drain_timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def loop_config(settings: Settings) -> LoopConfig:
    """The loop's knobs from Settings."""
    return LoopConfig(
        lease=settings.lease,
        batch=settings.worker_batch,
        concurrency=settings.worker_concurrency,
        poll_interval=settings.worker_poll_interval,
        drain_timeout=settings.drain_timeout,
        retry_base=settings.retry_base,
        retry_max=settings.retry_max,
    )
