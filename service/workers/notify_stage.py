"""Stage 'notify' (ref_id = notice id): send one notice, exactly as persisted.

The notice and its Message-ID exist before sending; a send attempt first seals the batch
(splitting it at `notice_max_urls`) and counts the attempt, then talks SMTP without holding a
database connection, then records acceptance. A crash between acceptance and commit resends the
same Message-ID; the case transitions, events and probe jobs happen only once, at the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service.db import cases, jobs, notify_repo
from service.db.jobs import Job
from service.domain.notices import deadline, split_batches
from service.domain.states import CaseState
from service.notify import ack
from service.notify.compose import NoticeDraft, Sender, build_message
from service.notify.items import NoticeItem
from service.notify.mailer import DeliveryDeferred, DeliveryRefused, Mailer
from service.notify.outbox import NEEDS_NOTICE, REROUTABLE, reroute
from service.observability import NOTICES
from service.settings import Settings
from service.workers.loop import Done, Outcome, RetryAfter, RunAgainAt, backoff

ACTOR = "worker:notify"


@dataclass(frozen=True)
class Attempt:
    notice: dict[str, Any]
    draft: NoticeDraft


class NotifyStage:
    """Sends sealed notice batches and records what the mail server said."""

    kind = "notify"

    def __init__(self, pool: asyncpg.Pool, settings: Settings, mailer: Mailer | None = None):
        self.pool = pool
        self.settings = settings
        self.mailer = mailer or Mailer(settings)
        self.sender = Sender(settings.hotline_name, settings.mail_from, settings.reply_to)

    async def aclose(self) -> None:
        """Close the kept SMTP connections (called when the worker stops)."""
        await self.mailer.aclose()

    async def handle(self, job: Job) -> Outcome:
        if job.ref_id is None:
            return Done()
        if await self._behind_earlier(job.ref_id):
            # Per recipient, notices leave in creation order (a retried one would otherwise be
            # overtaken after a mail outage); the earlier one wakes this job when it leaves.
            return RunAgainAt(datetime.now(UTC) + self.settings.retry_base)
        attempt = await self.prepare(job.ref_id)
        if attempt is None:
            return Done()
        try:
            message = build_message(attempt.draft, self.sender)
            await self.mailer.send(message.as_bytes(), attempt.draft.recipient)
        except DeliveryDeferred as exc:
            NOTICES.labels(outcome="deferred").inc()
            await self._deferred(attempt, str(exc))
            delay = backoff(job.attempts, self.settings.retry_base, self.settings.retry_max)
            return RetryAfter(delay, str(exc))
        except DeliveryRefused as exc:
            NOTICES.labels(outcome="failed").inc()
            await self._refused(attempt, str(exc))
            return Done()
        NOTICES.labels(outcome="sent").inc()
        await self.record_sent(attempt)
        return Done()

    async def _behind_earlier(self, notice_id: int) -> bool:
        async with self.pool.acquire() as conn:
            notice = await notify_repo.get_notice(conn, notice_id)
            if notice is None or notice["state"] in ("sent", "failed"):
                return False
            return await notify_repo.earlier_unsent(conn, notice["recipient"], notice_id)

    async def _wake_next(self, conn: asyncpg.Connection, recipient: str) -> None:
        """The recipient's next notice may go now that the one before it has left."""
        following = await notify_repo.next_unsent(
            conn, recipient, self.settings.notice_gather_window
        )
        if following is not None:
            await jobs.enqueue_for_ref(conn, "notify", following[0], run_at=following[1])

    async def prepare(self, notice_id: int) -> Attempt | None:
        """Seal/split the batch, count the attempt, issue an ack token; None if nothing to send."""
        async with self.pool.acquire() as conn, conn.transaction():
            notice = await notify_repo.lock_notice(conn, notice_id)
            if notice is None or notice["state"] in ("sent", "failed"):
                return None
            if notice["sealed_at"] is None and not await self._seal(conn, notice):
                return None
            now: datetime = await conn.fetchval("SELECT now()")
            due = deadline(
                now, notice["country"], self.settings.sla_default, self.settings.sla_by_country
            )
            fixed = await notify_repo.start_attempt(conn, notice_id, due)
            token = await ack.issue(conn, notice_id, self.settings.ack_token_ttl)
            items = [NoticeItem.from_row(r) for r in await notify_repo.items(conn, notice_id)]
        return Attempt(notice, self._draft(notice, items, fixed, token))

    async def _seal(self, conn: asyncpg.Connection, notice: dict[str, Any]) -> bool:
        """First attempt: drop items no longer wanted, split what exceeds the cap."""
        # Open states include items moved here from a failed contact (already notified).
        wanted = [state.value for state in REROUTABLE]
        await notify_repo.drop_stale_items(conn, notice["id"], wanted)
        case_ids = await notify_repo.item_case_ids(conn, notice["id"])
        if not case_ids:
            await notify_repo.mark_failed(conn, notice["id"], "no items left to notify")
            return False
        for batch in split_batches(case_ids, self.settings.notice_max_urls)[1:]:
            split_id = await notify_repo.split_off(conn, notice, batch, self.settings.mail_from)
            await jobs.enqueue_for_ref(conn, "notify", split_id)
        return True

    def _draft(
        self, notice: dict[str, Any], items: list[NoticeItem], due: datetime, token: str
    ) -> NoticeDraft:
        return NoticeDraft(
            notice_id=notice["id"],
            kind=notice["kind"],
            language=notice["language"],
            recipient=notice["recipient"],
            message_id=notice["message_id"],
            country=notice["country"],
            items=items,
            deadline=due,
            ack_url=ack.ack_url(self.settings.public_url, token),
            created_at=notice["created_at"],
        )

    async def record_sent(self, attempt: Attempt) -> None:
        """The server accepted: the notice is sent and its cases are notified (once)."""
        draft = attempt.draft
        async with self.pool.acquire() as conn, conn.transaction():
            if await notify_repo.mark_sent(conn, draft.notice_id) is None:
                return  # recorded by an earlier run already
            await notify_repo.health_delivered(conn, draft.recipient)
            await self._wake_next(conn, draft.recipient)
            detail = {
                "notice_id": draft.notice_id,
                "message_id": draft.message_id,
                "recipient": draft.recipient,
                "kind": draft.kind,
                "deadline": draft.deadline.isoformat(),
            }
            await self._notified(conn, [item.case_id for item in draft.items], detail)

    async def _notified(
        self, conn: asyncpg.Connection, case_ids: list[int], detail: dict[str, Any]
    ) -> None:
        """Cases awaiting their notice go on the clock; all get the event and a probe job.

        Batched (one statement each) because a notice carries up to notice_max_urls cases.
        """
        moved = await cases.transition_many(
            conn,
            case_ids,
            CaseState.NOTIFIED,
            actor=ACTOR,
            kind="notice",
            detail=detail,
            stamp="first_notice_at",
            expect=set(NEEDS_NOTICE),
        )
        # Already on the clock (reminder, rerouted item): the event only.
        already = [case_id for case_id in case_ids if case_id not in moved]
        await cases.add_events(conn, already, actor=ACTOR, kind="notice", detail=detail)
        await jobs.enqueue_for_cases(conn, "probe", case_ids)

    async def _deferred(self, attempt: Attempt, error: str) -> None:
        async with self.pool.acquire() as conn:
            await notify_repo.note_error(conn, attempt.draft.notice_id, error)

    async def _refused(self, attempt: Attempt, error: str) -> None:
        """Permanent refusal: the contact is failing; its items go to the next contact."""
        async with self.pool.acquire() as conn, conn.transaction():
            await notify_repo.mark_failed(conn, attempt.draft.notice_id, error)
            await notify_repo.health_failed(conn, attempt.draft.recipient, error, bounce=False)
            await reroute(conn, self.settings, attempt.notice, error)
            await self._wake_next(conn, attempt.draft.recipient)


def build(pool: asyncpg.Pool, settings: Settings) -> NotifyStage:
    return NotifyStage(pool, settings)
