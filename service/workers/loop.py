"""The claim loop every stage runs.

Claim due jobs with FOR UPDATE SKIP LOCKED and a lease, keep the lease alive with a heartbeat
while handling, persist the outcome under asyncio.shield (a cancelled worker still records what
it did), stop when the stop Event is set (signals only set it), and drain in-flight work within
a timeout. A job whose worker died is due again when its lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import asyncpg

from service.db import jobs as job_store
from service.db.jobs import Job
from service.errors import TakedownError
from service.logging_setup import case_context
from service.settings import Settings

log = logging.getLogger(__name__)


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


Outcome = Done | RunAgainAt | RetryAfter


class Stage(Protocol):
    """One kind of work. `handle` must be idempotent: a job can run twice after a crash."""

    kind: str

    async def handle(self, job: Job) -> Outcome: ...


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
    """Exponential backoff: base, 2·base, 4·base, … up to cap."""
    return min(base * (2 ** max(attempts - 1, 0)), cap)


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
        self.handled = 0

    async def run(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while not self.stop.is_set():
                free = self.config.concurrency - len(tasks)
                claimed = await self._claim(min(free, self.config.batch)) if free > 0 else []
                for job in claimed:
                    task = asyncio.create_task(self._handle(job))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(lambda _t: self.wakeup.set())
                if not claimed or free <= len(claimed):
                    await self._wait_for_work()
        finally:
            await self._drain(tasks)
            heartbeat.cancel()

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
        except TakedownError as exc:
            if not exc.transient:
                log.warning("%s job %s failed: %s", job.kind, job.id, exc)
            return self._retry(job, exc)
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            return self._retry(job, exc)
        except Exception as exc:  # a bug must not kill the worker; the job waits longer
            log.exception("%s job %s crashed", job.kind, job.id)
            return self._retry(job, exc)

    def _retry(self, job: Job, exc: BaseException) -> RetryAfter:
        retry_after = getattr(exc, "retry_after", None)
        delay = backoff(job.attempts, self.config.retry_base, self.config.retry_max)
        if retry_after:
            delay = max(delay, timedelta(seconds=float(retry_after)))
        return RetryAfter(delay=delay, error=f"{type(exc).__name__}: {exc}")

    async def _persist(self, job: Job, outcome: Outcome) -> None:
        async with self.pool.acquire() as conn:
            if isinstance(outcome, Done):
                kept = await job_store.finish(conn, job)
            elif isinstance(outcome, RunAgainAt):
                kept = await job_store.reschedule(conn, job, outcome.at)
            else:
                kept = await job_store.retry(conn, job, outcome.delay, outcome.error)
        if not kept:
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
