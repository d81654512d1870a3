"""What a removal's confirming check saw is shown where people look: the case page, the case
API and the statistics (removals by reason per hoster)."""

from __future__ import annotations

import asyncpg

from service.settings import Settings
from tests.conftest import make_settings
from tests.integration.api_client import running_api
from tests.integration.oversight.pages import analyst, log_in
from tests.integration.probe.cases import (
    FAST,
    Workers,
    notified_case,
    until_state,
    verdicts,
    wait_for,
)
from tests.integration.probe.conftest import Web
from tests.integration.probe.peers import expected_hashes


async def test_removal_reasons_on_the_case_page_api_and_statistics(
    pool: asyncpg.Pool, db_url: str, settings: Settings, web_origin: Web
) -> None:
    web_origin.origin.scripts["a"] = ["image", "404"]
    web_origin.origin.scripts["b"] = ["image", "redirect"]
    web_origin.origin.state["c"] = "login"
    gone_404 = await notified_case(pool, web_origin.url("a"), expected_hashes())
    moved = await notified_case(pool, web_origin.url("b"), expected_hashes())
    walled = await notified_case(pool, web_origin.url("c"), expected_hashes())
    async with Workers(pool, make_settings(db_url, **FAST)):
        await until_state(pool, gone_404, "removed")
        await until_state(pool, moved, "removed")

        async def walled_checked() -> bool:
            return bool(await verdicts(pool, walled))

        await wait_for(walled_checked)
    async with pool.acquire() as conn:
        await analyst(conn, "alice")
    async with running_api(settings, pool) as api:
        read = [
            await (await api.client.get(f"/api/v1/cases/{c}", headers=api.auth("hotline"))).json()
            for c in (gone_404, moved, walled)
        ]
        assert [case["removal_reason"] for case in read] == ["http_gone", "redirected_away", None]
        stats = await (
            await api.client.get("/api/v1/oversight/stats", headers=api.auth("hotline"))
        ).json()
        assert stats["removals_by_reason"] == [
            {"hoster": "127.0.0.1", "reasons": {"http_gone": 1, "redirected_away": 1}}
        ]
        await log_in(api.client, "alice")
        case_page = await (await api.client.get(f"/oversight/cases/{walled}")).text()
        assert "check: inconclusive (login_wall)" in case_page
        stats_page = await (await api.client.get("/oversight/stats")).text()
        assert 'id="reasons"' in stats_page and "redirected_away" in stats_page
