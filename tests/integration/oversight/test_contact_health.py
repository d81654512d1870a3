"""Contact health shown to analysts: per address delivered, bounced, acknowledged and the
median time to removal, on the hoster page (and its CSV) and in the oversight JSON API."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from service.db import cases, notify_repo
from service.domain.states import CaseState
from service.settings import Settings
from service.web.app import create_app
from tests.integration.api_client import running_api
from tests.integration.oversight.pages import analyst, log_in, notified_case
from tests.integration.oversight.world import HOSTER_DESK, scanner, sent_notice

HOSTER = "Never Removes Ltd"
TRANSIT = "abuse@transit.example"


async def _gone_after(conn: asyncpg.Connection, case_id: int, hours: float) -> None:
    first_notice = await conn.fetchval("SELECT first_notice_at FROM cases WHERE id = $1", case_id)
    await cases.transition(
        conn,
        case_id,
        CaseState.GONE_PENDING,
        actor="test",
        stamp="first_gone_at",
        at=first_notice + timedelta(hours=hours),
    )


async def _world(pool: asyncpg.Pool) -> None:
    """Two items removed 10 h and 30 h after notice (the slow one reminded twice), one open
    item whose notice to the transit desk bounced."""
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        fast = await notified_case(conn, sid, "http://a.never-removes.example/1", hours_ago=48)
        slow = await notified_case(conn, sid, "http://a.never-removes.example/2", hours_ago=48)
        stuck = await notified_case(conn, sid, "http://a.never-removes.example/3", hours_ago=5)
        await sent_notice(conn, HOSTER_DESK, [fast, slow], kind="notice")
        await sent_notice(conn, HOSTER_DESK, [slow], kind="reminder")
        await sent_notice(conn, HOSTER_DESK, [slow], kind="reminder")
        await sent_notice(conn, TRANSIT, [stuck], kind="notice")
        await _gone_after(conn, fast, 10)
        await _gone_after(conn, slow, 30)
        for _ in range(3):
            await notify_repo.health_delivered(conn, HOSTER_DESK)
        await notify_repo.health_acknowledged(conn, HOSTER_DESK)
        await notify_repo.health_failed(conn, TRANSIT, "bounce 5.1.1 user unknown", bounce=True)


async def test_hoster_api_shows_each_address_health_and_median_to_removal(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await _world(pool)
    async with running_api(settings, pool) as api:
        resp = await api.client.get(
            "/api/v1/oversight/hosters/Never Removes Ltd", headers=api.auth("hotline")
        )
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        everyone = await api.client.get("/api/v1/oversight/contacts", headers=api.auth("hotline"))
        everyone_body = await everyone.json()
        refused = await api.client.get("/api/v1/oversight/contacts", headers=api.auth("scanner"))
        spec = await (await api.client.get("/api/v1/openapi.json")).json()
    contacts = {c["address"]: c for c in body["contacts"]}
    desk, transit = contacts[HOSTER_DESK], contacts[TRANSIT]
    assert (desk["notices"], desk["delivered"], desk["acknowledged"], desk["bounced"]) == (
        3,
        3,
        1,
        0,
    )
    # Median of 10 h and 30 h: each item once, however often it was reminded.
    assert desk["median_removal_seconds"] == 20 * 3600 and not desk["failing"]
    assert transit["bounced"] == 1 and transit["failing"]
    assert transit["median_removal_seconds"] is None  # nothing removed yet
    assert body["hoster"] == HOSTER and body["scorecard"]["items"] == 3
    assert everyone.status == 200 and refused.status == 403
    health = {c["address"]: c for c in everyone_body["contacts"]}
    assert health[TRANSIT]["bounced"] == 1 and "5.1.1" in health[TRANSIT]["last_error"]
    assert health[HOSTER_DESK]["median_removal_seconds"] == 20 * 3600  # here too: once each
    assert {"/api/v1/oversight/hosters/{name}", "/api/v1/oversight/contacts"} <= set(spec["paths"])


async def test_hoster_page_and_csv_show_contact_health(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    await _world(pool)
    async with pool.acquire() as conn:
        await analyst(conn, "alice")
    async with TestClient(TestServer(create_app(settings, pool))) as client:
        await log_in(client, "alice")
        page = await (await client.get("/oversight/hosters/Never Removes Ltd")).text()
        exported = await (
            await client.get("/oversight/hosters/Never Removes Ltd?format=csv")
        ).text()
    assert "Contact health" in page and "Median to removal" in page and TRANSIT in page
    rows = {r["Address"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert rows[HOSTER_DESK]["Bounced"] == "0" and rows[TRANSIT]["Bounced"] == "1"
    assert rows[HOSTER_DESK]["Median to removal"] and not rows[TRANSIT]["Median to removal"]
