"""A reply can arrive while the outbox is still recording its notice as sent (an auto-reply
answers within a second): the outbox holds the notice row, then locks its cases. mail-in takes
the notice before the cases too, so the two wait for each other in turn instead of
deadlocking (the demo under load lost a reply to exactly this: 451, deadlock detected)."""

from __future__ import annotations

import asyncio

import asyncpg

from service.usecases.mail import take_in
from tests.integration.mail.conftest import Sent, mail
from tests.integration.oversight.world import eventually


async def _someone_waits_for_a_lock(pool: asyncpg.Pool) -> bool:
    async with pool.acquire() as conn:
        return bool(await conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"))


async def test_a_reply_during_the_outbox_transaction_waits_and_is_recorded(
    pool: asyncpg.Pool, sent: Sent
) -> None:
    reply = mail("Removed.", In_Reply_To=sent.message_id).as_bytes()
    async with pool.acquire() as outbox, outbox.transaction():
        await outbox.execute("SELECT 1 FROM notices WHERE id = $1 FOR UPDATE", sent.notice_id)
        taking_in = asyncio.create_task(take_in(pool, sent.settings, reply))
        await eventually(lambda: _someone_waits_for_a_lock(pool), timeout=20)
        # the outbox goes on to its cases, in id order, as it does for accepted notices
        await outbox.execute(
            "SELECT 1 FROM cases WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
            sent.case_ids,
        )
    summary = await asyncio.wait_for(taking_in, timeout=30)
    assert summary["action"] == "recorded" and sorted(summary["cases"]) == sent.case_ids
