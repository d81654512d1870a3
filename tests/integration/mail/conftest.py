"""Fixtures for the mailbox tests: a notice really sent (over SMTP on loopback) and mail
written the way hosters and their systems answer it."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import asyncpg
import pytest

from service.settings import Settings
from tests.integration.notify.conftest import Smtp, add_case, deliver, notice_settings
from tests.integration.notify.conftest import smtp as smtp  # the fixture, re-exported

VERP = {"verp_domain": "bounces.hotline.example", "verp_secret": "mail-in-tests"}
CONTACTS = [{"address": "abuse@hoster.example"}, {"address": "second@hoster.example"}]


@dataclass
class Sent:
    """A notice about two cases that went out to abuse@hoster.example."""

    settings: Settings
    notice_id: int
    message_id: str
    return_path: str
    case_ids: list[int]


@pytest.fixture
async def sent(pool: asyncpg.Pool, db_url: str, smtp: Smtp) -> Sent:
    settings = notice_settings(db_url, smtp.port, **VERP)
    async with pool.acquire() as conn:
        case_ids = [await add_case(conn, f"https://img.hoster.example/{n}.png", CONTACTS)
                    for n in range(2)]  # fmt: skip
    await deliver(pool, settings)
    (mail,) = smtp.sink.messages
    async with pool.acquire() as conn:
        notice_id = await conn.fetchval("SELECT id FROM notices")
    return Sent(settings, notice_id, str(mail.message["Message-ID"]), mail.mail_from, case_ids)


def mail(body: str = "Hello", **headers: Any) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "Jane Desk <jane@hoster.example>")
    message["To"] = headers.pop("To", "abuse-desk@hotline.example")
    message["Subject"] = headers.pop("Subject", "Re: your notice")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message
