"""`takedown mail-in` reads a real IMAP mailbox (Dovecot, started by the test): mail is taken
in and moved to the done folder, a mail that could not be taken in stays for the next pass,
new mail wakes an IDLE reader at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import pytest

from service.notify.mailbox import MailboxError, read_mailbox
from service.settings import Settings
from service.usecases.mail import take_in
from tests.integration.cli_runner import takedown
from tests.integration.mail.conftest import Sent, mail
from tests.integration.mail.dovecot import (
    PASSWORD,
    USER,
    Dovecot,
    requires_dovecot,
    running_dovecot,
)

pytestmark = requires_dovecot()


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server


def reading(settings: Settings, dovecot: Dovecot, **overrides: Any) -> Settings:
    values = {
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.imap_port,
        "imap_tls": "none",
        "imap_username": USER,
        "imap_password": PASSWORD,
        "imap_poll_interval": 3600.0,  # only IDLE can wake the reader within a test
    }
    return Settings(**(settings.model_dump() | values | overrides))  # validated, unlike model_copy


def _env(dovecot: Dovecot) -> dict[str, str]:
    return {
        "TAKEDOWN_IMAP_HOST": "127.0.0.1",
        "TAKEDOWN_IMAP_PORT": str(dovecot.imap_port),
        "TAKEDOWN_IMAP_TLS": "none",
        "TAKEDOWN_IMAP_USERNAME": USER,
        "TAKEDOWN_IMAP_PASSWORD": PASSWORD,
        "TAKEDOWN_VERP_DOMAIN": "bounces.hotline.example",
        "TAKEDOWN_VERP_SECRET": "mail-in-tests",
    }


async def _kinds(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [r["kind"] for r in await conn.fetch("SELECT kind FROM inbound_mail ORDER BY kind")]


async def test_the_command_takes_in_every_mail_and_moves_it_to_the_done_folder(
    pool: asyncpg.Pool, db_url: str, sent: Sent, dovecot: Dovecot
) -> None:
    reply = mail("Removed, thanks.", In_Reply_To=sent.message_id)
    auto = mail("Ticket opened.", Subject="[#A-7731] Auto: abuse report", Auto_Submitted="auto-replied",
                In_Reply_To=sent.message_id)  # fmt: skip
    bounce = mail("<abuse@hoster.example>:\nmailbox unknown (#5.1.1)\n",
                  From="MAILER-DAEMON@mx.hoster.example", To=sent.return_path,
                  Subject="failure notice")  # fmt: skip
    for message in (reply, auto, bounce):
        await asyncio.to_thread(dovecot.append, message.as_bytes())
    result = await takedown("mail-in", "--once", db_url=db_url, env=_env(dovecot))
    assert result.code == 0, result.err
    assert "3 taken in" in result.err
    assert await asyncio.to_thread(dovecot.count, "INBOX") == 0
    assert await asyncio.to_thread(dovecot.count, "Processed") == 3
    assert await _kinds(pool) == ["auto_reply", "bounce", "reply"]


async def test_a_mail_not_taken_in_stays_in_the_inbox_and_is_taken_in_next_time(
    pool: asyncpg.Pool, sent: Sent, dovecot: Dovecot
) -> None:
    await asyncio.to_thread(dovecot.append, mail("Hi", In_Reply_To=sent.message_id).as_bytes())
    settings = reading(sent.settings, dovecot)

    async def crashes_after_taking_in(raw: bytes, recipients: Sequence[str]) -> None:
        await take_in(pool, settings, raw, recipients)
        raise RuntimeError("the process died before the mail was moved")

    first = await read_mailbox(settings, crashes_after_taking_in, asyncio.Event(), once=True)
    assert (first.handled, first.failed) == (0, 1)
    assert await asyncio.to_thread(dovecot.count, "INBOX") == 1

    async def takes_in(raw: bytes, recipients: Sequence[str]) -> None:
        await take_in(pool, settings, raw, recipients)

    again = await read_mailbox(settings, takes_in, asyncio.Event(), once=True)
    assert (again.handled, again.failed) == (1, 0)
    assert await asyncio.to_thread(dovecot.count, "INBOX") == 0
    assert await asyncio.to_thread(dovecot.count, "Processed") == 1
    assert await _kinds(pool) == ["reply"]  # recorded once


async def test_new_mail_wakes_an_idle_reader(
    pool: asyncpg.Pool, sent: Sent, dovecot: Dovecot
) -> None:
    settings = reading(sent.settings, dovecot)
    handled: asyncio.Queue[bytes] = asyncio.Queue()
    stop = asyncio.Event()

    async def handler(raw: bytes, recipients: Sequence[str]) -> None:
        await take_in(pool, settings, raw, recipients)
        handled.put_nowait(raw)

    reader = asyncio.create_task(read_mailbox(settings, handler, stop))
    try:
        await asyncio.to_thread(
            dovecot.append, mail("first", In_Reply_To=sent.message_id).as_bytes()
        )
        async with asyncio.timeout(20):  # far below the 3600 s poll interval: IDLE woke it
            await handled.get()
        await asyncio.to_thread(
            dovecot.append, mail("second", In_Reply_To=sent.message_id).as_bytes()
        )
        async with asyncio.timeout(20):
            await handled.get()
    finally:
        stop.set()
        async with asyncio.timeout(30):
            total = await reader
    assert total.handled == 2
    assert await asyncio.to_thread(dovecot.count, "Processed") == 2


async def test_an_unreachable_mailbox_is_a_readable_error(db_url: str) -> None:
    env = {
        "TAKEDOWN_IMAP_HOST": "127.0.0.1",
        "TAKEDOWN_IMAP_PORT": "9",
        "TAKEDOWN_IMAP_TLS": "none",
    }
    result = await takedown("mail-in", "--once", db_url=db_url, env=env)
    assert result.code == 1 and "unreachable" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("mode", ["tls", "starttls"])
async def test_the_mailbox_is_read_over_verified_tls(
    pool: asyncpg.Pool, sent: Sent, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_dovecot(tls=True) as server:
        await asyncio.to_thread(server.append, mail("Hi", In_Reply_To=sent.message_id).as_bytes())
        port = server.imaps_port if mode == "tls" else server.imap_port
        settings = reading(
            sent.settings, server, imap_host="localhost", imap_tls=mode, imap_port=port
        )

        async def takes_in(raw: bytes, recipients: Sequence[str]) -> None:
            await take_in(pool, settings, raw, recipients)

        # Not trusted yet: the self-signed certificate is refused, nothing is read.
        with pytest.raises(MailboxError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
            await read_mailbox(settings, takes_in, asyncio.Event(), once=True)
        monkeypatch.setenv("SSL_CERT_FILE", str(server.certificate))
        batch = await read_mailbox(settings, takes_in, asyncio.Event(), once=True)
        assert (batch.handled, batch.failed) == (1, 0)
        assert await asyncio.to_thread(server.count, "Processed") == 1
