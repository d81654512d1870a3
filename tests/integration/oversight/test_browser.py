"""The oversight pages in headless Chromium: log in, filter the overdue queue, escalate a
case, download the CSV, see the chart. Skipped only outside CI when no Chromium is installed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from service.settings import Settings
from service.web.app import create_app
from tests.integration.oversight.browser import chromium, requires_chromium
from tests.integration.oversight.pages import PASSWORD, analyst, notified_case
from tests.integration.oversight.world import ROUTE, events, scanner

pytestmark = requires_chromium()


@pytest.fixture
async def server(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[str]:
    test_server = TestServer(create_app(settings, pool), host="127.0.0.1")
    await test_server.start_server()
    yield f"http://127.0.0.1:{test_server.port}"
    await test_server.close()


async def test_analyst_day_in_a_real_browser(
    server: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        await analyst(conn, "alice")
        slow = {**ROUTE, "hoster": "Slow Host", "country": "NL"}
        late = await notified_case(
            conn, sid, "http://img.slow.example/late.png", hours_ago=30, route=slow
        )
        await notified_case(conn, sid, "http://other.example/late.png", hours_ago=90)
    async with chromium() as page:
        await page.send("Page.setDownloadBehavior", behavior="allow", downloadPath=str(tmp_path))
        await page.navigate(f"{server}/oversight/queues/overdue")
        assert "/oversight/login" in await page.evaluate("location.pathname")
        await page.fill("input[name=username]", "alice")
        await page.fill("input[name=password]", PASSWORD)
        await page.click_and_wait("#login button[type=submit]")
        assert await page.evaluate("location.pathname") == "/oversight/queues/overdue"
        assert await page.evaluate("document.cookie") == ""  # the session cookie is HttpOnly

        await page.fill("#filters input[name=hoster]", "Slow Host")
        await page.click_and_wait("#filters button[type=submit]")
        urls = await page.evaluate(
            "[...document.querySelectorAll('#queue td.url')].map(e => e.textContent)"
        )
        assert urls == ["http://img.slow.example/late.png"]

        await page.click_and_wait(f"#queue a[href='/oversight/cases/{late}']")
        await page.click_and_wait("#action-trigger")
        timeline = await page.evaluate("document.querySelector('#timeline').textContent")
        assert "escalation_action" in timeline and "analyst:alice" in timeline
        [action] = await events(pool, late, "escalation_action")
        assert action["actor"] == "analyst:alice"

        await page.navigate(f"{server}/oversight/queues/overdue?hoster=Slow+Host")
        await page.evaluate("document.querySelector('#csv').click()")
        csv_text = await _downloaded(tmp_path)
        assert "img.slow.example/late.png" in csv_text and "other.example" not in csv_text

        await page.navigate(f"{server}/oversight/stats")
        box = await page.evaluate(
            "(() => { const r = document.querySelector('#survival svg').getBoundingClientRect();"
            " return [r.width, r.height]; })()"
        )
        assert box[0] > 300 and box[1] > 100  # the survival chart is drawn and visible
        assert await page.evaluate("document.querySelectorAll('#survival svg path').length") == 1


async def _downloaded(folder: Path, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.suffix == ".csv"]
        if done:
            return done[0].read_text("utf-8")
        await asyncio.sleep(0.05)
    raise AssertionError(f"no CSV downloaded; folder has {[p.name for p in folder.iterdir()]}")
