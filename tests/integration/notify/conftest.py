"""Fixtures for notice tests: a real SMTP server on loopback and cases with routes."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.db import jobs as job_store
from service.db.tokens import create_token
from service.settings import Settings
from service.sim.smtp import MailSink, ReceivedMail, SmtpServer
from service.web.app import create_app
from service.workers.loop import Done, RetryAfter, RunAgainAt, Stage
from service.workers.notify_stage import NotifyStage
from service.workers.outbox_stage import OutboxStage
from tests.conftest import make_settings


@dataclass
class Smtp:
    sink: MailSink
    server: SmtpServer

    @property
    def port(self) -> int:
        return self.server.port

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.sink.messages if address in m.rcpt_tos]


@pytest.fixture
async def smtp() -> AsyncIterator[Smtp]:
    sink = MailSink(set(), now=time.monotonic)
    sink.accept_all = True
    server = SmtpServer(sink)
    await server.start()
    yield Smtp(sink, server)
    await server.stop()


def notice_settings(db_url: str, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_timeout": 5.0,
        "notice_gather_window": timedelta(0),
        "retry_base": timedelta(seconds=1),
        "public_url": "http://127.0.0.1:9",
        "mail_from": "notices@hotline.example",
        "reply_to": "desk@hotline.example",
    }
    values.update(overrides)
    return make_settings(db_url, **values)


async def scanner_id(conn: asyncpg.Connection) -> int:
    existing = await conn.fetchval("SELECT id FROM tokens WHERE name = 'notify-tests'")
    if existing:
        return int(existing)
    token, _secret = await create_token(conn, "notify-tests", "scanner")
    return token.id


async def add_case(
    conn: asyncpg.Connection,
    url: str,
    recipients: list[dict[str, Any]],
    *,
    country: str | None = None,
    registrar: dict[str, Any] | None = None,
    sha256: str | None = None,
    state: str = "resolved",
) -> int:
    """A resolved case with its routing decision, as the resolve stage leaves it."""
    digest = sha256 or f"{abs(hash(url)):064x}"[-64:]
    case_id: int = await conn.fetchval(
        """INSERT INTO cases (url, url_original, host, sha256, md5, media_type, scanner_id,
                              source_ref, state, detected_at, resolved_at, last_seen_at)
           VALUES ($1, $1, 'h', $2, $3, 'image/png', $4, 'ref', $5::case_state,
                   now() - interval '2 hours', now(), now() - interval '1 hour')
           RETURNING id""",
        url,
        digest,
        digest[:32],
        await scanner_id(conn),
        state,
    )
    ranked = [
        {"rank": i, "role": "abuse", "source": "rdap", "confidence": 0.9} | r
        for i, r in enumerate(recipients)
    ]
    await conn.execute(
        """INSERT INTO case_routes (case_id, recipients, country, registrar, no_contact_reason)
           VALUES ($1, $2, $3, $4, $5)""",
        case_id,
        ranked,
        country,
        registrar,
        None if ranked else "none",
    )
    await job_store.enqueue_for_case(conn, "outbox", case_id)
    return case_id


async def drain(pool: asyncpg.Pool, stage: Stage, limit: int = 1000) -> list[Any]:
    """Claim and handle every due job of the stage (like the claim loop, without timing)."""
    outcomes = []
    while True:
        async with pool.acquire() as conn:
            claimed = await job_store.claim(conn, stage.kind, 50, "test", timedelta(minutes=1))
        if not claimed:
            return outcomes
        for job in claimed:
            try:
                outcome = await stage.handle(job)
            except Exception as exc:  # a crash: the job is retried later, like the loop does
                outcome = RetryAfter(timedelta(hours=1), repr(exc))
            outcomes.append(outcome)
            async with pool.acquire() as conn:
                if isinstance(outcome, Done):
                    await job_store.finish(conn, job)
                elif isinstance(outcome, RunAgainAt):
                    await job_store.reschedule(conn, job, outcome.at)
                else:
                    await job_store.retry(conn, job, outcome.delay, outcome.error)
        if len(outcomes) > limit:
            raise AssertionError("jobs keep coming back")


async def make_due(pool: asyncpg.Pool, kind: str) -> None:
    async with pool.acquire() as conn:
        await conn.execute("UPDATE jobs SET run_at = now() WHERE kind = $1", kind)


async def deliver(pool: asyncpg.Pool, settings: Settings) -> None:
    """Run outbox then notify until nothing is due."""
    await drain(pool, OutboxStage(pool, settings))
    await drain(pool, NotifyStage(pool, settings))


LINK = re.compile(r"http://127\.0\.0\.1:9(/ack/[A-Za-z0-9_-]+)")
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass
class Hoster:
    client: TestClient
    path: str
    case_ids: list[int]

    async def page(self) -> tuple[int, str]:
        response = await self.client.get(self.path)
        return response.status, await response.text()

    async def answer(self, answer: str, scope: str = "all", note: str = "", **extra: str) -> int:
        _status, html = await self.page()
        match = CSRF.search(html)
        form = {
            "csrf_token": match.group(1) if match else "",
            "answer": answer,
            "scope": scope,
            "note": note,
        } | extra
        response = await self.client.post(self.path, data=form)
        return response.status


@pytest.fixture
async def hoster(pool: asyncpg.Pool, db_url: str, smtp: Smtp) -> AsyncIterator[Hoster]:
    settings = notice_settings(db_url, smtp.port)
    recipients = [{"address": "abuse@hoster.example", "language": "nl"}]
    async with pool.acquire() as conn:
        case_ids = [await add_case(conn, f"https://h.example/{n}", recipients) for n in range(3)]
    await deliver(pool, settings)
    (mail,) = smtp.sink.messages
    text = mail.message.get_body(("plain",)).get_content()
    path = LINK.search(text).group(1)
    async with TestClient(TestServer(create_app(settings, pool))) as client:
        yield Hoster(client, path, case_ids)
