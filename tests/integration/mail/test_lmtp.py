"""`takedown mail-in --lmtp`: an MTA hands mail over LMTP (here Python's smtplib.LMTP client,
a real LMTP session on loopback); the envelope recipient is the VERP return path."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Sequence

import asyncpg
import pytest

from service.notify.lmtp import LmtpServer
from service.usecases.mail import take_in
from tests.integration.mail.conftest import Sent, mail


def _hand_over(port: int, sender: str, recipients: list[str], raw: bytes) -> dict:
    with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail(sender, recipients, raw)


async def test_a_bounce_handed_over_by_lmtp_is_matched_by_its_envelope_recipient(
    pool: asyncpg.Pool, sent: Sent
) -> None:
    async def handler(raw: bytes, recipients: Sequence[str]) -> None:
        await take_in(pool, sent.settings, raw, recipients)

    server = LmtpServer(handler, "127.0.0.1", 0)
    await server.start()
    try:
        # The headers name no VERP address and nothing of the original: only the envelope does.
        bounce = mail("<abuse@hoster.example>:\nUser unknown (#5.1.1)\n",
                      From="MAILER-DAEMON@mx.hoster.example", To="postmaster@hotline.example",
                      Subject="failure notice")  # fmt: skip
        refused = await asyncio.to_thread(
            _hand_over, server.port, "", [sent.return_path], bounce.as_bytes()
        )
    finally:
        await server.stop()
    assert refused == {}
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT kind, matched_by, outcome FROM inbound_mail")
    assert (row["kind"], row["matched_by"]) == ("bounce", "verp")
    assert row["outcome"]["action"] == "rerouted"


async def test_a_mail_that_cannot_be_taken_in_is_refused_temporarily(sent: Sent) -> None:
    async def broken(raw: bytes, recipients: Sequence[str]) -> None:
        raise ConnectionError("database away")

    server = LmtpServer(broken, "127.0.0.1", 0)
    await server.start()
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await asyncio.to_thread(
                _hand_over, server.port, "x@hoster.example", ["desk@hotline.example"],
                mail("hello").as_bytes(),
            )  # fmt: skip
    finally:
        await server.stop()
    assert refused.value.smtp_code == 451  # the MTA keeps the mail and retries
