"""Sending a notice, as it changes notices, contacts and cases.

The 'notify' stage prepares a send round (service/notify/rounds.py), hands each message to
the SMTP server and reports the outcome here: accepted (`record_sent`: the notices are sent,
their cases notified once, with the clock's first_notice_at), copies refused
(`record_copies_refused`), deferred (`record_deferred`: noted, retried with backoff) or refused
for good (`record_refused`: the notice failed, its contact is marked failing and its items go
to the case's next contact — or the hotline queue when none is left).
"""

from __future__ import annotations

import asyncpg

from service.db import notify_repo
from service.notify.mailer import Delivery
from service.notify.outbox import reroute
from service.notify.rounds import Attempt, next_to_wake
from service.notify.rounds import record_sent as record_round_sent
from service.settings import Settings


async def record_sent(pool: asyncpg.Pool, settings: Settings, attempts: list[Attempt]) -> None:
    """The server accepted: the notices are sent and their cases notified (once)."""
    async with pool.acquire() as conn:
        await record_round_sent(conn, settings, attempts)


async def record_copies_refused(pool: asyncpg.Pool, notice_id: int, delivery: Delivery) -> None:
    """Copies the server refused: recorded, never held against the main recipient (the
    notice was accepted for it and counts as sent)."""
    async with pool.acquire() as conn, conn.transaction():
        await notify_repo.cc_failed(
            conn,
            notice_id,
            delivery.cc_refused,
            permanent=set(delivery.cc_refused_for_good),
            bounce=False,
        )


async def record_deferred(pool: asyncpg.Pool, notice_id: int, error: str) -> None:
    """A temporary failure, noted on the notice (the job retries)."""
    async with pool.acquire() as conn:
        await notify_repo.note_error(conn, notice_id, error)


async def record_refused(
    pool: asyncpg.Pool, settings: Settings, attempt: Attempt, error: str
) -> None:
    """Permanent refusal: the contact is failing; its items go to the next contact."""
    draft = attempt.draft
    async with pool.acquire() as conn, conn.transaction():
        await notify_repo.mark_failed(conn, draft.notice_id, error)
        await notify_repo.health_failed(conn, draft.recipient, error, bounce=False)
        await reroute(conn, settings, attempt.notice, error)
        await next_to_wake(conn, settings, draft.recipient)
