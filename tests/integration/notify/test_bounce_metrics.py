"""A bounce applied over the API counts as takedown_notices_total{outcome="bounced"} on
/metrics, once per notice (a repeated DSN does not count again)."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from service.db.tokens import create_token
from service.web.app import create_app
from tests.integration.notify.conftest import Smtp, add_case, deliver, notice_settings
from tests.integration.notify.test_failures import TWO_CONTACTS, dsn


def _bounced(exposition: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if (
                sample.name == "takedown_notices_total"
                and sample.labels.get("outcome") == "bounced"
            ):
                return float(sample.value)
    return 0.0


async def test_bounce_is_counted_once_on_metrics(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        await add_case(conn, "https://x.example/metrics", TWO_CONTACTS)
        _token, secret = await create_token(conn, "mailroom", "hotline")
    await deliver(pool, settings)
    (first,) = smtp.sink.messages
    body = dsn(first.message["Message-ID"], "first@hoster.example")
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "message/rfc822"}
    async with TestClient(TestServer(create_app(settings, pool))) as client:
        before = _bounced(await (await client.get("/metrics")).text())
        for _ in range(2):
            assert (await client.post("/api/v1/bounces", data=body, headers=headers)).status == 200
        after = _bounced(await (await client.get("/metrics")).text())
    assert after == before + 1
