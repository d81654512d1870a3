"""A mail that keeps failing is set aside after TAKEDOWN_MAIL_IN_MAX_ATTEMPTS instead of being
retried at every poll forever: over IMAP it is moved to the quarantine folder (a real Dovecot),
over LMTP it is refused for good; either way it is recorded without its content, counted, and
listed for analysts. Nothing of it reaches the logs, not even through the error's message.

The failure is a real one: a trigger on inbound_mail refuses the mail from one sender, with
an error message that quotes the mail's text (as a database error may)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from service.notify.lmtp import LmtpServer
from service.notify.mailbox import SetAside, read_mailbox
from service.usecases.mail import mail_counts, take_in_or_set_aside
from tests.integration.api_client import running_api
from tests.integration.mail.conftest import Sent, mail
from tests.integration.mail.dovecot import requires_dovecot, running_dovecot
from tests.integration.mail.test_mailbox import reading
from tests.integration.oversight.pages import analyst, log_in

SENTINEL = "Sentinel-7f3a-the-text-of-a-failing-mail"
BROKEN_ID = "<broken-1@hoster.example>"


async def _refuse_mail_from_broken_sender(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("""
            CREATE FUNCTION test_refuse_mail() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.sender = 'broken@hoster.example' THEN
                    RAISE EXCEPTION 'refused: %', NEW.body_text;
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_refuse_mail BEFORE INSERT ON inbound_mail
                FOR EACH ROW EXECUTE FUNCTION test_refuse_mail();
        """)


def _broken(sent: Sent) -> bytes:
    message = mail(f"{SENTINEL}\n", From="broken@hoster.example", In_Reply_To=sent.message_id,
                   Message_ID=BROKEN_ID)  # fmt: skip
    return message.as_bytes()


async def _failures(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch("SELECT * FROM mail_in_failures")]


@requires_dovecot()
async def test_imap_a_mail_that_keeps_failing_goes_to_the_quarantine_folder(
    pool: asyncpg.Pool, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="service")  # aioimaplib: WARNING, as logging_setup
    await _refuse_mail_from_broken_sender(pool)
    with running_dovecot() as dovecot:
        settings = reading(sent.settings, dovecot, mail_in_max_attempts=3)
        await asyncio.to_thread(dovecot.append, _broken(sent))
        await asyncio.to_thread(
            dovecot.append, mail("Removed.", In_Reply_To=sent.message_id).as_bytes()
        )

        async def handler(raw: bytes, recipients: Sequence[str]) -> None:
            await take_in_or_set_aside(pool, settings, raw, recipients, channel="imap")

        passes = []
        for _ in range(4):
            batch = await read_mailbox(settings, handler, asyncio.Event(), once=True)
            passes.append((batch.handled, batch.failed, batch.set_aside))
            folders = [
                await asyncio.to_thread(dovecot.count, f)
                for f in ("INBOX", "Processed", "Quarantine")
            ]
            passes[-1] += tuple(folders)
    # handled, failed, set aside; then what INBOX, Processed, Quarantine hold
    assert passes == [
        (1, 1, 0, 1, 1, 0),  # the good mail is taken in; the broken one stays for a retry
        (0, 1, 0, 1, 1, 0),
        (0, 0, 1, 0, 1, 1),  # the third failure sets it aside: moved, not deleted
        (0, 0, 0, 0, 1, 1),  # and it is not retried
    ]
    (failure,) = await _failures(pool)
    assert failure["channel"] == "imap" and failure["attempts"] == 3
    assert failure["message_id"] == BROKEN_ID and failure["error"] == "RaiseError"
    assert failure["set_aside_at"] is not None
    assert (await mail_counts(pool))["set_aside"] == 1
    assert SENTINEL not in caplog.text  # the error quoted the mail; the log does not
    assert SENTINEL not in str(failure)


async def test_lmtp_a_mail_that_keeps_failing_is_refused_for_good(
    pool: asyncpg.Pool, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="service")  # aioimaplib: WARNING, as logging_setup
    await _refuse_mail_from_broken_sender(pool)
    settings = sent.settings.model_copy(update={"mail_in_max_attempts": 2})

    async def handler(raw: bytes, recipients: Sequence[str]) -> None:
        await take_in_or_set_aside(pool, settings, raw, recipients, channel="lmtp")

    def hand_over(port: int) -> int:
        try:
            with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
                client.sendmail("broken@hoster.example", ["desk@hotline.example"], _broken(sent))
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code
        return 250

    server = LmtpServer(handler, "127.0.0.1", 0)
    await server.start()
    try:
        codes = [await asyncio.to_thread(hand_over, server.port) for _ in range(3)]
    finally:
        await server.stop()
    # the MTA retries after 451; after the second failure it is told to stop (and return it)
    assert codes == [451, 554, 554]
    (failure,) = await _failures(pool)
    assert failure["channel"] == "lmtp" and failure["attempts"] == 3
    assert SENTINEL not in caplog.text


async def test_a_busy_database_is_not_counted_against_the_mail(
    pool: asyncpg.Pool, sent: Sent
) -> None:
    """A deadlock, a serialization failure or a lock timeout is the database's moment, not the
    mail's fault: the mail is retried without counting, however often it happens."""
    async with pool.acquire() as conn:
        await conn.execute("""
            CREATE FUNCTION test_deadlock() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = 'deadlock_detected'; END $$;
            CREATE TRIGGER test_deadlock BEFORE INSERT ON inbound_mail
                FOR EACH ROW EXECUTE FUNCTION test_deadlock();
        """)
    settings = sent.settings.model_copy(update={"mail_in_max_attempts": 1})
    reply = mail("Removed.", In_Reply_To=sent.message_id).as_bytes()
    for _ in range(3):
        with pytest.raises(asyncpg.DeadlockDetectedError):
            await take_in_or_set_aside(pool, settings, reply, channel="lmtp")
    assert await _failures(pool) == []


async def test_analysts_see_the_mail_set_aside_on_the_statistics_page(
    pool: asyncpg.Pool, sent: Sent
) -> None:
    await _refuse_mail_from_broken_sender(pool)
    settings = sent.settings.model_copy(update={"mail_in_max_attempts": 1})
    with pytest.raises(SetAside):
        await take_in_or_set_aside(pool, settings, _broken(sent), channel="imap")
    async with running_api(settings, pool) as api:
        async with pool.acquire() as conn:
            await analyst(conn, "alice")
        await log_in(api.client, "alice")
        page = await (await api.client.get("/oversight/stats")).text()
    section = page.split("Mail set aside", 1)[1]
    assert "&lt;broken-1@hoster.example&gt;" in section and "RaiseError" in section
    assert "Quarantine" in section and SENTINEL not in page
