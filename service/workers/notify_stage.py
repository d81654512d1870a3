"""Stage 'notify' (ref_id = notice id): send notices, exactly as persisted, a batch at a time.

The notice and its Message-ID exist before sending. A claimed batch is one send round
(service.notify.rounds): one transaction seals the batches (splitting at `notice_max_urls`),
counts the attempts and issues the tokens; the messages then go out concurrently over kept
SMTP connections without holding a database connection; one transaction records those the
server accepted. A crash between acceptance and commit resends the same Message-ID; the case
transitions, events and probe jobs happen only once, at the commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

import asyncpg

from service.notify.compose import Sender, build_message
from service.notify.mailer import Delivery, DeliveryDeferred, DeliveryRefused, Mailer
from service.notify.mime import UnsafeHeader
from service.notify.rounds import Attempt, prepare_round
from service.notify.verp import return_path
from service.observability import NOTICES
from service.packaged import Templates
from service.settings import Settings
from service.usecases import notify as sending
from service.usecases.queue import Job
from service.workers.loop import Done, Outcome, RetryAfter, RunAgainAt, backoff

Result = Outcome | BaseException


class NotifyStage:
    """Sends sealed notice batches and records what the mail server said."""

    kind = "notify"
    # Notices claimed at once, one send round (the claim loop's `claim_batch`): a round's
    # dozen statements serve all its notices.
    claim_batch = 64

    def __init__(self, pool: asyncpg.Pool, settings: Settings, mailer: Mailer | None = None):
        self.pool = pool
        self.settings = settings
        # One kept SMTP connection per concurrent send: none is closed and reopened between.
        self.mailer = mailer or Mailer(settings, keep=settings.worker_concurrency)
        self.sending = asyncio.Semaphore(settings.worker_concurrency)
        # Recording touches shared rows (contact health, the statistics tallies its triggers
        # keep): concurrent rounds would only wait on each other's row locks, holding
        # connections, so this worker records one round at a time.
        self.recording = asyncio.Lock()
        self.sender = Sender(settings.hotline_name, settings.mail_from, settings.reply_to)
        self.templates = Templates.of(settings)

    async def aclose(self) -> None:
        """Close the kept SMTP connections (called when the worker stops)."""
        await self.mailer.aclose()

    async def handle(self, job: Job) -> Outcome:
        result = (await self.handle_batch([job]))[job.id]
        if isinstance(result, BaseException):
            raise result
        return result

    async def handle_batch(self, jobs: list[Job]) -> Mapping[int, Result]:
        """One send round for the claimed notices."""
        results: dict[int, Result] = {job.id: Done() for job in jobs}
        by_notice = {job.ref_id: job for job in jobs if job.ref_id is not None}
        if not by_notice:
            return results
        async with self.pool.acquire() as conn:
            prepared = await prepare_round(conn, self.settings, list(by_notice))
        later = datetime.now(UTC) + self.settings.retry_base
        for notice_id in prepared.behind:
            # Per recipient, notices leave in creation order (a retried one would otherwise be
            # overtaken after a mail outage); the earlier one wakes this job when it leaves.
            results[by_notice[notice_id].id] = RunAgainAt(later)
        delivered = await asyncio.gather(
            *(self._deliver(a, by_notice[a.draft.notice_id]) for a in prepared.attempts)
        )
        accepted = [a for a, result in zip(prepared.attempts, delivered, strict=True) if not result]
        for attempt, result in zip(prepared.attempts, delivered, strict=True):
            if result:
                results[by_notice[attempt.draft.notice_id].id] = result
        if accepted:
            await self._record(accepted, by_notice, results)
        return results

    async def _record(
        self, accepted: list[Attempt], by_notice: dict[int, Job], results: dict[int, Result]
    ) -> None:
        try:
            await self.record_sent(*accepted)
        except Exception as exc:  # retried: the rerun resends the same Message-IDs
            for attempt in accepted:
                results[by_notice[attempt.draft.notice_id].id] = exc

    async def _deliver(self, attempt: Attempt, job: Job) -> Result | None:
        """Send one notice; None when the server accepted it, else the job's outcome."""
        draft = attempt.draft
        try:
            async with self.sending:
                message = build_message(draft, self.sender, self.templates)
                delivery = await self.mailer.send(
                    message.as_bytes(),
                    draft.recipient,
                    draft.cc,
                    sender=return_path(self.settings, draft.notice_id),
                )
            if delivery.cc_refused:
                await self._copies_refused(draft.notice_id, delivery)
        except DeliveryDeferred as exc:
            NOTICES.labels(outcome="deferred").inc()
            return await self._deferred(attempt, job, exc)
        except DeliveryRefused as exc:
            NOTICES.labels(outcome="failed").inc()
            return await self._refused(attempt, str(exc))
        except UnsafeHeader as exc:  # e.g. a recipient no header can carry: never sendable
            NOTICES.labels(outcome="failed").inc()
            return await self._refused(attempt, f"message cannot be built: {exc}")
        except Exception as exc:  # a bug or a lost database: this job retries with backoff
            return exc
        NOTICES.labels(outcome="sent").inc()
        return None

    async def _copies_refused(self, notice_id: int, delivery: Delivery) -> None:
        """Copies the server refused: recorded, never held against the main recipient (the
        notice was accepted for it and counts as sent)."""
        await sending.record_copies_refused(self.pool, notice_id, delivery)

    async def record_sent(self, *attempts: Attempt) -> None:
        """The server accepted: the notices are sent and their cases notified (once)."""
        async with self.recording:
            await sending.record_sent(self.pool, self.settings, list(attempts))

    async def _deferred(self, attempt: Attempt, job: Job, exc: DeliveryDeferred) -> Result:
        try:
            await sending.record_deferred(self.pool, attempt.draft.notice_id, str(exc))
        except Exception as error:
            return error
        delay = backoff(job.attempts, self.settings.retry_base, self.settings.retry_max)
        return RetryAfter(delay, str(exc))

    async def _refused(self, attempt: Attempt, error: str) -> Result:
        """Permanent refusal: the contact is failing; its items go to the next contact."""
        try:
            await sending.record_refused(self.pool, self.settings, attempt, error)
        except Exception as exc:
            return exc
        return Done()


def build(pool: asyncpg.Pool, settings: Settings) -> NotifyStage:
    return NotifyStage(pool, settings)
