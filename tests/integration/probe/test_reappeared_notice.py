"""Content back after a confirmed removal: the probe stage moves the case to `reappeared`, and
the new notice that goes out (real SMTP) says the content was removed before, and when."""

from __future__ import annotations

import time

import asyncpg

from service.notify.items import utc_text
from service.sim.smtp import MailSink, SmtpServer
from tests.conftest import make_settings
from tests.integration.notify.conftest import deliver, notice_settings
from tests.integration.probe.cases import FAST, Workers, case_row, notified_case, until_state
from tests.integration.probe.conftest import Web
from tests.integration.probe.peers import expected_hashes


async def test_notice_for_reappeared_content_says_it_was_removed_before(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    web_origin.origin.scripts["c"] = ["404", "404", "404", "image"]
    case_id = await notified_case(pool, web_origin.url("c"), expected_hashes())
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO case_routes (case_id, recipients) VALUES ($1, $2)",
            case_id,
            [{"address": "abuse@hoster.example", "role": "abuse", "confidence": "high"}],
        )
    async with Workers(pool, make_settings(db_url, **FAST)):
        await until_state(pool, case_id, "reappeared")
    removed_at = (await case_row(pool, case_id))["removed_at"]

    sink = MailSink(set(), now=time.monotonic)
    sink.accept_all = True
    server = SmtpServer(sink)
    await server.start()
    try:
        await deliver(pool, notice_settings(db_url, server.port))
    finally:
        await server.stop()

    (mail,) = sink.messages
    assert "back online after removal" in mail.subject
    body = mail.message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert f"this content was removed on {utc_text(removed_at)} and is online again" in text
    assert "1 of these URL(s) serve content that had been removed before" in text
    assert (await case_row(pool, case_id))["state"] == "notified"
