"""Incoming mail is understood and attached to its notice's cases, and never changes a case's
state: replies wait for analysts, auto-replies are noted with their ticket, bounces reroute."""

from __future__ import annotations

import asyncpg

from service.usecases.mail import case_replies, take_in
from tests.integration.mail.conftest import Sent, mail


async def _states(pool: asyncpg.Pool) -> set[str]:
    async with pool.acquire() as conn:
        return {r["state"] for r in await conn.fetch("SELECT state::text FROM cases")}


async def _events(pool: asyncpg.Pool, kind: str) -> list[dict]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT case_id, actor, detail FROM case_events WHERE kind = $1 ORDER BY case_id", kind
        )
    return [dict(r) for r in rows]


async def test_a_reply_in_the_thread_is_attached_to_every_case_of_the_notice(
    pool: asyncpg.Pool, sent: Sent
) -> None:
    reply = mail("We are looking into it.\n-- \nJane", In_Reply_To=sent.message_id)
    summary = await take_in(pool, sent.settings, reply.as_bytes())
    assert summary["kind"] == "reply" and summary["matched_by"] == "message_id"
    assert summary["cases"] == sent.case_ids
    events = await _events(pool, "mail_reply")
    assert [e["case_id"] for e in events] == sent.case_ids
    assert await _states(pool) == {"notified"}  # a reply never changes a case's state
    async with pool.acquire() as conn:
        (shown,) = await case_replies(conn, sent.case_ids[0])
    assert shown["sender"] == "jane@hoster.example" and "looking into it" in shown["body_text"]


async def test_an_auto_reply_is_auto_acknowledged_with_its_ticket_not_acknowledged(
    pool: asyncpg.Pool, sent: Sent
) -> None:
    auto = mail(
        "Your request has been received and will be handled.",
        Subject="[Ticket#2024120712345] Removal request received",
        Auto_Submitted="auto-replied",
        References=sent.message_id,
    )
    summary = await take_in(pool, sent.settings, auto.as_bytes())
    assert summary["kind"] == "auto_reply" and summary["ticket"] == "2024120712345"
    events = await _events(pool, "auto-acknowledged")
    assert len(events) == 2 and events[0]["detail"]["ticket"] == "2024120712345"
    async with pool.acquire() as conn:
        acknowledged = await conn.fetchval("SELECT count(acknowledged_at) FROM cases")
    assert acknowledged == 0 and await _states(pool) == {"notified"}


async def test_the_subject_reference_matches_only_from_the_recipients_domain(
    pool: asyncpg.Pool, sent: Sent
) -> None:
    subject = f"Re: Removal request TT-N{sent.notice_id:06d} (TT-C{sent.case_ids[1]:07d})"
    ours = await take_in(pool, sent.settings, mail(Subject=subject).as_bytes())
    assert ours["matched_by"] == "subject" and ours["cases"] == [sent.case_ids[1]]
    stranger = mail(Subject=subject, From="someone@elsewhere.example")
    theirs = await take_in(pool, sent.settings, stranger.as_bytes())
    assert theirs["matched_by"] is None and theirs["cases"] == []


async def test_a_bounce_at_the_return_path_reroutes_without_any_message_id(
    pool: asyncpg.Pool, sent: Sent
) -> None:
    bounce = mail(
        "Hi. This is the qmail-send program at mx.hoster.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<abuse@hoster.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n",
        From="MAILER-DAEMON@mx.hoster.example",
        To=sent.return_path,
        Subject="failure notice",
    )
    summary = await take_in(pool, sent.settings, bounce.as_bytes())
    assert summary["kind"] == "bounce" and summary["matched_by"] == "verp"
    assert summary["action"] == "rerouted" and summary["moved_to"] == ["second@hoster.example"]


async def test_the_same_mail_taken_in_twice_is_recorded_once(
    pool: asyncpg.Pool, sent: Sent
) -> None:
    reply = mail("Removed.", In_Reply_To=sent.message_id, Message_ID="<r1@hoster.example>")
    first = await take_in(pool, sent.settings, reply.as_bytes())
    again = await take_in(pool, sent.settings, reply.as_bytes())
    assert first["action"] == "recorded" and again["action"] == "duplicate"
    assert len(await _events(pool, "mail_reply")) == 2  # two cases, one event each
