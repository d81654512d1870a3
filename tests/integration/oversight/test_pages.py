"""The /oversight/ pages over HTTP: login, queues with filters, actions, CSV, statistics."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.db.jobs import Job
from service.settings import Settings
from service.web.app import create_app
from service.workers.escalate_stage import EscalateStage
from tests.integration.oversight.pages import analyst, csrf_of, enrol_totp, log_in, notified_case
from tests.integration.oversight.world import ROUTE, events, scanner

SLOW = {**ROUTE, "hoster": "Slow Host", "country": "NL"}
# A hoster name someone wrote into RDAP to attack the analyst's spreadsheet.
EVIL = {**ROUTE, "hoster": '=HYPERLINK("http://evil.example")', "country": "DE"}


@pytest.fixture
async def client(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(create_app(settings, pool)))
    await client.start_server()
    yield client
    await client.close()


@pytest.fixture
async def world(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        await analyst(conn, "alice")
        await analyst(conn, "sam", "supervisor")
        return {
            "late": await notified_case(
                conn, sid, "http://a.slow.example/1.png", hours_ago=30, route=SLOW
            ),
            "fresh": await notified_case(
                conn, sid, "http://a.slow.example/2.png", hours_ago=2, route=SLOW
            ),
            "evil": await notified_case(
                conn, sid, "http://evil.example/3.png", hours_ago=100, route=EVIL
            ),
        }


async def test_pages_need_a_login(client: TestClient, world: dict[str, int]) -> None:
    for path in (
        "/oversight/queues/overdue",
        "/oversight/stats",
        f"/oversight/cases/{world['late']}",
    ):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"].startswith("/oversight/login")


async def test_wrong_password_is_refused(client: TestClient, world: dict[str, int]) -> None:
    response = await log_in(client, "alice", "not the password")
    assert response.status == 401
    assert "Unknown user, wrong password or code" in await response.text()
    assert (await client.get("/oversight/stats", allow_redirects=False)).status == 303


async def test_session_cookie_is_httponly_and_strict(
    client: TestClient, world: dict[str, int]
) -> None:
    response = await log_in(client, "alice")
    assert response.status == 303
    cookie = response.cookies["tt_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"


async def test_overdue_queue_filters_and_escalation_by_an_analyst(
    client: TestClient, world: dict[str, int], pool: asyncpg.Pool, settings: Settings
) -> None:
    await log_in(client, "alice")
    page = await (
        await client.get("/oversight/queues/overdue", params={"hoster": "Slow Host"})
    ).text()
    assert "a.slow.example/1.png" in page  # 30 h after notice, NL allows 24 h
    assert "6.0 h past the deadline" in page
    assert "a.slow.example/2.png" not in page  # not due yet
    assert "evil.example" not in page  # another hoster, filtered out
    case_page = await (await client.get(f"/oversight/cases/{world['late']}")).text()
    forged = await client.post(
        f"/oversight/cases/{world['late']}/actions",
        data={"action": "trigger", "csrf": "forged"},
        allow_redirects=False,
    )
    assert forged.status == 403
    done = await client.post(
        f"/oversight/cases/{world['late']}/actions",
        data={"action": "trigger", "csrf": csrf_of(case_page)},
        allow_redirects=False,
    )
    assert done.status == 303
    [action] = await events(pool, world["late"], "escalation_action")
    assert action["actor"] == "analyst:alice" and action["detail"]["step"] == "upstream"
    await EscalateStage(pool, settings).handle(Job(1, "escalate", None, 0, 1, 0))
    [step] = await events(pool, world["late"], "escalation_step")
    assert (
        step["to_state"] == "escalated" and step["detail"]["recipient"] == "abuse@transit.example"
    )
    timeline = await (await client.get(f"/oversight/cases/{world['late']}")).text()
    assert "escalation_step" in timeline and "analyst:alice" in timeline


async def test_csv_export_defuses_formulas(client: TestClient, world: dict[str, int]) -> None:
    await log_in(client, "alice")
    response = await client.get("/oversight/queues/overdue", params={"format": "csv"})
    assert response.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    hosters = {row["Hoster"] for row in rows}
    assert '\'=HYPERLINK("http://evil.example")' in hosters and "Slow Host" in hosters
    assert not any(h.startswith("=") for h in hosters)


async def test_statistics_page_draws_svg_charts(client: TestClient, world: dict[str, int]) -> None:
    await log_in(client, "alice")
    page = await (await client.get("/oversight/stats")).text()
    assert page.count("<svg") == 3
    assert "Slow Host" in page and "&lt;" not in page.split("<svg")[0][-10:]
    by_country = await (await client.get("/oversight/stats", params={"by": "country"})).text()
    assert ">NL<" in by_country


async def test_statistics_page_shows_one_page_of_groups_and_the_csv_all(
    client: TestClient, world: dict[str, int]
) -> None:
    await log_in(client, "alice")
    first = await (await client.get("/oversight/stats", params={"limit": "1"})).text()
    second = await (await client.get("/oversight/stats", params={"limit": "1", "page": "2"})).text()
    table = "<table"  # the group table comes after the charts, which name every hoster
    assert "Slow Host" in first.split(table)[1] and "HYPERLINK" not in first.split(table)[1]
    assert "HYPERLINK" in second.split(table)[1] and "Slow Host" not in second.split(table)[1]
    assert 'rel="next"' in first and 'rel="next"' not in second and 'rel="prev"' in second
    export = await client.get("/oversight/stats", params={"limit": "1", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(await export.text())))
    assert sorted(row["Group"] for row in rows) == [
        '\'=HYPERLINK("http://evil.example")',
        "Slow Host",
    ]
    assert {row["Group"]: row["Items"] for row in rows}["Slow Host"] == "2"
    countries = await client.get("/oversight/stats", params={"by": "country", "limit": "1"})
    table_of_countries = (await countries.text()).split(table)[1]
    assert ">NL<" in table_of_countries and ">DE<" not in table_of_countries
    refused = await client.get("/oversight/stats", params={"limit": "1001"})
    assert refused.status == 400


async def test_holds_need_a_supervisor(
    client: TestClient, world: dict[str, int], pool: asyncpg.Pool
) -> None:
    await log_in(client, "alice")
    page = await (await client.get("/oversight/holds")).text()
    refused = await client.post(
        "/oversight/holds",
        data={"csrf": csrf_of(page), "scope": "hoster", "value": "Slow Host", "reason": "police"},
        allow_redirects=False,
    )
    assert refused.status == 403
    await client.post("/oversight/logout", data={"csrf": csrf_of(page)}, allow_redirects=False)
    await log_in(client, "sam")
    await enrol_totp(client)  # holds need a supervisor with a second factor
    page = await (await client.get("/oversight/holds")).text()
    placed = await client.post(
        "/oversight/holds",
        data={
            "csrf": csrf_of(page),
            "scope": "hoster",
            "value": "Slow Host",
            "reason": "police request",
        },
        allow_redirects=False,
    )
    assert placed.status == 303
    held = await (await client.get("/oversight/queues/held")).text()
    assert "a.slow.example/1.png" in held and "police request" in held
    [hold] = await events(pool, world["fresh"], "hold")
    assert hold["actor"] == "analyst:sam" and hold["to_state"] == "held"
