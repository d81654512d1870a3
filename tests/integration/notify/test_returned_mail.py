"""Bounces that real mail systems write are acted on: a forwarded abuse mailbox's failure is
the notice recipient's, a 4.x.x status with `Action: failed` is final, a delay warning is not."""

from __future__ import annotations

import asyncpg

from service.notify.bounces import apply_bounce, parse_bounce
from service.notify.verp import notice_of, return_path
from tests.integration.notify.conftest import Smtp, add_case, deliver, notice_settings

TWO_CONTACTS = [{"address": "abuse@hoster.example"}, {"address": "second@hoster.example"}]


def dsn(message_id: str, *, final: str, original: str = "", action: str, status: str) -> bytes:
    original_line = f"Original-Recipient: rfc822; {original}\r\n" if original else ""
    return (
        "From: MAILER-DAEMON@mx.gmail.example\r\n"
        "To: notices@hotline.example\r\n"
        "Subject: Delivery Status Notification\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery to a recipient failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.gmail.example\r\n\r\n"
        f"{original_line}Final-Recipient: rfc822; {final}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {status[0]}50 {status} over quota\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\n\r\n"
        "--B--\r\n"
    ).encode()


async def _sent(pool: asyncpg.Pool, db_url: str, smtp: Smtp) -> str:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        await add_case(conn, "https://x.example/1", TWO_CONTACTS)
    await deliver(pool, settings)
    (mail,) = smtp.sink.messages
    return str(mail.message["Message-ID"])


async def _apply(pool: asyncpg.Pool, db_url: str, smtp: Smtp, raw: bytes) -> dict:
    async with pool.acquire() as conn:
        return await apply_bounce(conn, notice_settings(db_url, smtp.port), parse_bounce(raw))


async def test_a_forwarded_mailbox_that_refuses_is_the_notice_recipients_failure(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    message_id = await _sent(pool, db_url, smtp)
    raw = dsn(message_id, final="desk.owner@gmail.example", original="abuse@hoster.example",
              action="failed", status="5.2.2")  # fmt: skip
    summary = await _apply(pool, db_url, smtp, raw)
    assert summary["action"] == "rerouted" and summary["moved_to"] == ["second@hoster.example"]


async def test_a_temporary_status_with_action_failed_is_final(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    message_id = await _sent(pool, db_url, smtp)
    raw = dsn(message_id, final="abuse@hoster.example", action="failed", status="4.4.7")
    summary = await _apply(pool, db_url, smtp, raw)
    assert summary["action"] == "rerouted"
    async with pool.acquire() as conn:
        error = await conn.fetchval("SELECT last_error FROM notices ORDER BY id LIMIT 1")
    assert "4.4.7" in error


async def test_a_delay_warning_changes_nothing(pool: asyncpg.Pool, db_url: str, smtp: Smtp) -> None:
    message_id = await _sent(pool, db_url, smtp)
    raw = dsn(message_id, final="abuse@hoster.example", action="delayed", status="4.4.7")
    summary = await _apply(pool, db_url, smtp, raw)
    assert summary == {"matched": True, "notice_id": summary["notice_id"], "action": "ignored",
                       "reason": "no final failure for the recipient"}  # fmt: skip


async def test_a_notice_goes_out_from_its_own_return_path(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(
        db_url, smtp.port, verp_domain="bounces.hotline.example", verp_secret="k"
    )
    async with pool.acquire() as conn:
        await add_case(conn, "https://x.example/1", TWO_CONTACTS)
    await deliver(pool, settings)
    (mail,) = smtp.sink.messages
    async with pool.acquire() as conn:
        notice_id = await conn.fetchval("SELECT id FROM notices")
    assert mail.mail_from == return_path(settings, notice_id)
    assert notice_of(settings, [mail.mail_from]) == notice_id
    assert mail.message["From"].addresses[0].addr_spec == "notices@hotline.example"  # DMARC


async def test_a_bounce_filed_by_hand_matches_by_its_verp_address_alone(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    """`takedown bounces FILE` and POST /api/v1/bounces: the DSN's To is the return path."""
    settings = notice_settings(
        db_url, smtp.port, verp_domain="bounces.hotline.example", verp_secret="k"
    )
    async with pool.acquire() as conn:
        await add_case(conn, "https://x.example/1", TWO_CONTACTS)
    await deliver(pool, settings)
    (mail,) = smtp.sink.messages
    raw = (
        f"From: MAILER-DAEMON@mx.hoster.example\r\nTo: {mail.mail_from}\r\n"
        "Subject: failure notice\r\n\r\n"
        "<abuse@hoster.example>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n"
    ).encode()
    async with pool.acquire() as conn:
        summary = await apply_bounce(conn, settings, parse_bounce(raw))
    assert summary["action"] == "rerouted" and summary["moved_to"] == ["second@hoster.example"]
