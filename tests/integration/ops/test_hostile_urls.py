"""Malicious URLs through intake, the case API and the logs: stored or refused, never harmful."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from service.logging_setup import TEXT_FORMAT, SafeTextFormatter
from tests.conftest import make_settings
from tests.integration.api_client import Api, running_api

HOSTILE = [
    "http://evil.example/a\r\nBcc: victim@example.org",
    "http://evil.example/%0d%0aSet-Cookie:%20x=1",
    "http://evil.example/<script>alert(1)</script>",
    'http://evil.example/"><img src=x onerror=alert(1)>',
    'http://evil.example/=HYPERLINK("http://x")',
    "http://evil.example/" + "a" * 9000,
    "http://evil.example/\u202egnp.exe",
    "http://evil.example/zero\u200bwidth\u0000nul",
    "http://\u0430pple.com/img.jpg",  # Cyrillic а: an IDN homograph of apple.com
    "http://xn--pple-43d.com/img.jpg",
    "javascript:alert(1)",
]


@pytest.fixture
async def api(db_url: str, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    async with running_api(make_settings(db_url), pool) as api:
        yield api


def _report(i: int, url: str) -> dict[str, object]:
    return {
        "url": url,
        "media_type": "image/jpeg",
        "source_ref": f"hostile-{i}",
        "hashes": {"sha256": hashlib.sha256(f"hostile-{i}".encode()).hexdigest()},
        "detected_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }


async def test_hostile_urls_are_stored_safely_or_refused(
    api: Api, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reports = [_report(i, url) for i, url in enumerate(HOSTILE)]
    resp = await api.client.post(
        "/api/v1/reports", json={"reports": reports}, headers=api.auth("scanner")
    )
    body = await resp.json()
    assert resp.status in (202, 422)
    results = body.get("results") or body.get("errors") or []
    created = [r["case_id"] for r in results if r.get("case_id")]
    async with pool.acquire() as conn:
        stored = [r["url"] for r in await conn.fetch("SELECT url FROM cases")]
    for url in stored:  # what is kept must be inert in mail headers, pages, CSV and logs
        # < > " stay: they are escaped where displayed (Jinja autoescape, JSON).
        assert not any(c in url for c in "\r\n\x00") and url.startswith("http")
        assert not url.startswith(("http://=", "https://=")) and len(url) <= 8192
    for case_id in created:
        case = await api.client.get(f"/api/v1/cases/{case_id}", headers=api.auth("hotline"))
        assert case.status == 200 and case.content_type == "application/json"
    formatter = SafeTextFormatter(TEXT_FORMAT)
    for record in caplog.records:
        record.asctime = formatter.formatTime(record)
        assert "\n" not in formatter.formatMessage(record).rstrip("\n")
    print(
        f"hostile URLs: {len(HOSTILE)} sent, {len(stored)} stored, "
        f"{len(HOSTILE) - len(stored)} refused"
    )
