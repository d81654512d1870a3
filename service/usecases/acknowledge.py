"""A hoster answers a notice through the one-click link in it (/ack/{token}).

The link opens the notice's items; the answer (received, removed, not ours — with who is
responsible —, dispute) is recorded per item by `service.notify.ack.record_answer`, in one
transaction with its events: received/removed acknowledge the case, removed also asks for a
re-check now, not ours and dispute put the case in the hotline's queues (where an analyst
re-resolves it or routes it by hand: service/usecases/oversee.py).
"""

from __future__ import annotations

import asyncpg

from service.db import notify_repo
from service.db.notify_repo import NoticeItemRow
from service.notify import ack
from service.notify.ack import AckToken, AnswerDetails


async def open_link(pool: asyncpg.Pool, token: str) -> AckToken | None:
    """The link's token record, or None for anything malformed or unknown."""
    async with pool.acquire() as conn:
        return await ack.lookup(conn, token)


async def notice_items(pool: asyncpg.Pool, notice_id: int) -> list[NoticeItemRow]:
    """The notice's items as the hoster sees them (URL, state, hashes)."""
    async with pool.acquire() as conn:
        return await notify_repo.items(conn, notice_id)


async def notice_case_ids(pool: asyncpg.Pool, notice_id: int) -> list[int]:
    """The cases the notice is about (an answer may concern only these)."""
    async with pool.acquire() as conn:
        return await notify_repo.item_case_ids(conn, notice_id)


async def answer(
    pool: asyncpg.Pool, token: AckToken, case_ids: list[int], choice: str, details: AnswerDetails
) -> int:
    """Record the hoster's answer for these items; how many items it newly changed."""
    async with pool.acquire() as conn:
        return await ack.record_answer(conn, token, case_ids, choice, details)
