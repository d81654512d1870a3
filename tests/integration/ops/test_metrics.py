"""/metrics: database gauges at scrape time, stage counters, access control."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from service import observability
from service.web.app import create_app
from tests.conftest import make_settings
from tests.integration.ops.cases import make_cases


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_show_cases_by_state_lag_and_counters(
    db_url: str, pool: asyncpg.Pool
) -> None:
    await make_cases(pool, 3)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE jobs SET run_at = now() - interval '90 seconds'")
    before = observability.PROBE_VERDICTS.labels(verdict="gone")._value.get()
    observability.PROBE_VERDICTS.labels(verdict="gone").inc()
    async with TestClient(TestServer(create_app(make_settings(db_url), pool))) as client:
        resp = await client.get("/metrics")
        samples = _samples(await resp.text())
    assert resp.status == 200
    assert samples[("takedown_cases", (("state", "received"),))] == 3
    assert samples[("takedown_cases", (("state", "removed"),))] == 0
    assert samples[("takedown_due_jobs", (("kind", "resolve"),))] == 3
    assert 89 < samples[("takedown_due_job_lag_seconds", (("kind", "resolve"),))] < 150
    assert samples[("takedown_probe_verdicts_total", (("verdict", "gone"),))] == before + 1


async def test_metrics_token_is_required_when_configured(db_url: str, pool: asyncpg.Pool) -> None:
    settings = make_settings(db_url, metrics_token="scrape-secret-1")
    async with TestClient(TestServer(create_app(settings, pool))) as client:
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-1"})
    assert (anonymous.status, wrong.status, right.status) == (401, 401, 200)


def test_only_loopback_clients_scrape_without_a_token() -> None:
    from service.web.metrics import _is_loopback

    assert _is_loopback("127.0.0.1") and _is_loopback("::1")
    assert not _is_loopback("10.0.0.5") and not _is_loopback(None) and not _is_loopback("x")
