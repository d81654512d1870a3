"""/metrics reports the mailbox although `takedown mail-in` runs as a process of its own: mail
recorded by kind, unmatched replies waiting, and when the newest mail arrived (an operator
alerts on a stale timestamp when the mailbox stops delivering)."""

from __future__ import annotations

import time

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from service.usecases.mail import take_in
from service.web.app import create_app
from tests.integration.mail.conftest import Sent, mail


async def _scrape(sent: Sent, pool: asyncpg.Pool) -> dict[tuple[str, str], float]:
    settings = sent.settings.model_copy(update={"metrics_open": True})
    async with TestClient(TestServer(create_app(settings, pool))) as client:
        text = await (await client.get("/metrics")).text()
    return {
        (s.name, s.labels.get("kind", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("takedown_mail")
    }


async def test_metrics_count_what_mail_in_recorded(pool: asyncpg.Pool, sent: Sent) -> None:
    before = await _scrape(sent, pool)
    assert before[("takedown_mail_in_newest_timestamp_seconds", "")] == 0
    await take_in(pool, sent.settings, mail("Done.", In_Reply_To=sent.message_id).as_bytes())
    await take_in(pool, sent.settings, mail("About ticket 12", Subject="Ticket 12").as_bytes())
    auto = mail("We got your mail.", Auto_Submitted="auto-replied", In_Reply_To=sent.message_id)
    await take_in(pool, sent.settings, auto.as_bytes())
    after = await _scrape(sent, pool)
    assert after[("takedown_mail_in_recorded", "reply")] == 2
    assert after[("takedown_mail_in_recorded", "auto_reply")] == 1
    assert after[("takedown_mail_in_recorded", "bounce")] == 0
    assert after[("takedown_mail_unmatched", "")] == 1
    assert after[("takedown_mail_in_set_aside", "")] == 0
    assert abs(after[("takedown_mail_in_newest_timestamp_seconds", "")] - time.time()) < 300
