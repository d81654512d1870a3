"""Retention clears what hosters wrote about a purged case: a reply may quote the very URL the
purge removes, so its text, subject and attachment metadata go with the case's URL."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from service.usecases.mail import take_in
from service.usecases.retention import purge_closed_cases
from tests.integration.mail.conftest import Sent, mail

URL_QUOTED = "https://img.hoster.example/0.png"


async def _close_long_ago(pool: asyncpg.Pool, case_id: int) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE cases SET state = 'removed', first_gone_at = now() - interval '41 days',"
            " removed_at = now() - interval '40 days' WHERE id = $1",
            case_id,
        )
        await conn.execute("DELETE FROM jobs WHERE case_id = $1", case_id)


async def test_a_purge_clears_the_replies_about_the_case(pool: asyncpg.Pool, sent: Sent) -> None:
    reply = mail(f"We removed {URL_QUOTED} today.", In_Reply_To=sent.message_id,
                 Subject=f"Re: {URL_QUOTED}")  # fmt: skip
    reply.add_attachment(b"\x89PNG generated", maintype="image", subtype="png", filename="x.png")
    await take_in(pool, sent.settings, reply.as_bytes())
    unmatched = mail("Who are you?", Subject="Question", Message_ID="<other@hoster.example>")
    await take_in(pool, sent.settings, unmatched.as_bytes())
    await _close_long_ago(pool, sent.case_ids[0])

    result = await purge_closed_cases(pool, timedelta(days=30))

    assert result.purged == 1 and result.mails_cleared == 1
    async with pool.acquire() as conn:
        rows = {
            r["subject"] or r["kind"]: r for r in await conn.fetch("SELECT * FROM inbound_mail")
        }
        everything = await conn.fetchval("SELECT string_agg(m::text, ' ') FROM inbound_mail m")
    cleared = rows["reply"]
    assert cleared["body_text"] == "" and cleared["attachments"] == []
    assert cleared["purged_at"] is not None
    assert cleared["sender"] == "jane@hoster.example"  # that a mail came, and from whom, stays
    assert URL_QUOTED not in everything and "removed" not in everything
    assert rows["Question"]["body_text"].startswith("Who are you?")  # about no purged case
    again = await purge_closed_cases(pool, timedelta(days=30))
    assert again.purged == 0 and again.mails_cleared == 0
