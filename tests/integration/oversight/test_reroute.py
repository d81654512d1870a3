"""Ways forward for stuck cases: an analyst routes a case to an address of their choosing
(a "not ours, it is X" answer, a case without contact) or sends it through resolution again;
over the JSON API and the case page, each an event with the analyst's name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.db import cases, notify_repo
from service.domain.states import CaseState
from service.settings import Settings
from service.web.app import create_app
from tests.conftest import make_settings
from tests.integration.api_client import running_api
from tests.integration.oversight.pages import analyst, csrf_of, log_in, notified_case
from tests.integration.oversight.world import (
    HOSTER_DESK,
    add_case,
    events,
    running_stages,
    scanner,
    sent_notice,
    smtp_sink,
)

RESELLER = "abuse@reseller.example"


async def _answered_not_ours(pool: asyncpg.Pool, url: str) -> int:
    """A notified case whose hoster answered "not ours, it is the reseller"."""
    async with pool.acquire() as conn:
        case_id = await notified_case(conn, await scanner(conn), url, hours_ago=5)
        notice_id = await sent_notice(conn, HOSTER_DESK, [case_id])
        await notify_repo.insert_answer(conn, notice_id, case_id, "not_ours", f"it is {RESELLER}")
    return case_id


async def _unresolved(pool: asyncpg.Pool, url: str) -> int:
    async with pool.acquire() as conn:
        case_id = await add_case(conn, await scanner(conn), url)
        await conn.execute(
            "INSERT INTO case_routes (case_id, no_contact_reason) VALUES ($1, 'no abuse role')",
            case_id,
        )
        await cases.transition(conn, case_id, CaseState.UNRESOLVED, actor="test")
    return case_id


async def _queue_ids(api: object, name: str) -> list[int]:
    resp = await api.client.get(  # type: ignore[attr-defined]
        f"/api/v1/oversight/queues/{name}",
        headers=api.auth("hotline"),  # type: ignore[attr-defined]
    )
    return [item["id"] for item in (await resp.json())["items"]]


async def test_not_ours_answer_is_routed_to_the_named_address_and_the_notice_goes_out(
    db_url: str, pool: asyncpg.Pool
) -> None:
    case_id = await _answered_not_ours(pool, "http://img.never-removes.example/n.png")
    async with smtp_sink() as (sink, server):
        settings = make_settings(
            db_url,
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            notice_gather_window=timedelta(seconds=0.1),
        )
        async with running_api(settings, pool) as api:
            assert await _queue_ids(api, "not_ours") == [case_id]
            resp = await api.client.post(
                f"/api/v1/oversight/cases/{case_id}/actions",
                headers=api.auth("hotline"),
                json={"action": "route", "address": RESELLER.upper(), "note": "their answer"},
            )
            assert resp.status == 200, await resp.text()
            result = (await resp.json())["result"]
            assert result["recipient"] == RESELLER and result["answers_reviewed"] == 1
            assert await _queue_ids(api, "not_ours") == []
        async with running_stages(pool, settings, ("notify",)):
            [mail] = await sink.wait_for(1)
    assert mail.rcpt_tos == [RESELLER]
    assert f"{case_id}" in mail.subject  # the stable case reference
    [routed] = await events(pool, case_id, "routed")
    assert routed["actor"] == "hotline:analyst" and routed["detail"]["address"] == RESELLER
    async with pool.acquire() as conn:
        route = await conn.fetchval(
            "SELECT recipients FROM case_routes WHERE case_id = $1", case_id
        )
        state = await conn.fetchval("SELECT state::text FROM cases WHERE id = $1", case_id)
    # The analyst's address leads; the others stay behind it should it bounce.
    assert [r["address"] for r in route] == [RESELLER, HOSTER_DESK, "abuse@transit.example"]
    assert route[0]["source"] == "analyst:hotline:analyst" and state == "notified"


async def test_unresolved_case_routed_by_hand_becomes_resolved_and_joins_a_batch(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    case_id = await _unresolved(pool, "http://orphan.example/u.png")
    async with running_api(settings, pool) as api:
        assert await _queue_ids(api, "unresolved") == [case_id]
        resp = await api.client.post(
            f"/api/v1/oversight/cases/{case_id}/actions",
            headers=api.auth("hotline"),
            json={"action": "route", "address": "abuse@upstream.example"},
        )
        assert resp.status == 200, await resp.text()
        assert await _queue_ids(api, "unresolved") == []
    async with pool.acquire() as conn:
        state = await conn.fetchval("SELECT state::text FROM cases WHERE id = $1", case_id)
        batch = await conn.fetchval(
            "SELECT n.recipient FROM notice_items i JOIN notices n ON n.id = i.notice_id"
            " WHERE i.case_id = $1",
            case_id,
        )
        reason = await conn.fetchval(
            "SELECT no_contact_reason FROM case_routes WHERE case_id = $1", case_id
        )
        notify_jobs = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'notify'")
    assert (state, batch, reason, notify_jobs) == ("resolved", "abuse@upstream.example", None, 1)
    [routed] = await events(pool, case_id, "routed")
    assert routed["to_state"] == "resolved" and routed["actor"] == "hotline:analyst"


async def test_re_resolve_sends_an_unresolved_case_back_to_resolution(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    case_id = await _unresolved(pool, "http://orphan.example/r.png")
    async with running_api(settings, pool) as api:
        resp = await api.client.post(
            f"/api/v1/oversight/cases/{case_id}/actions",
            headers=api.auth("hotline"),
            json={"action": "re_resolve", "note": "new contact rule for orphan.example"},
        )
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["result"]["from_state"] == "unresolved"
    async with pool.acquire() as conn:
        state = await conn.fetchval("SELECT state::text FROM cases WHERE id = $1", case_id)
        resolve_jobs = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = 'resolve' AND case_id = $1", case_id
        )
    assert (state, resolve_jobs) == ("resolving", 1)
    [event] = await events(pool, case_id, "re_resolve")
    assert event["actor"] == "hotline:analyst" and event["to_state"] == "resolving"


async def test_actions_that_do_not_apply_are_refused_with_a_reason(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        removed = await notified_case(conn, sid, "http://gone.example/1.png", hours_ago=3)
        await conn.execute(
            "UPDATE cases SET state = 'removed', first_gone_at = now(), removed_at = now()"
            " WHERE id = $1",
            removed,
        )
        await conn.execute(
            "INSERT INTO contact_health (address, failing) VALUES ('dead@desk.example', true)"
        )
        open_case = await notified_case(conn, sid, "http://open.example/1.png", hours_ago=3)
    url = "/api/v1/oversight/cases/{}/actions"
    async with running_api(settings, pool) as api:
        attempts = [
            (removed, {"action": "re_resolve"}),
            (removed, {"action": "route", "address": "abuse@x.example"}),
            (open_case, {"action": "route", "address": "dead@desk.example"}),
            (open_case, {"action": "route", "address": "not an address"}),
            (open_case, {"action": "route"}),
        ]
        answers = []
        for case_id, body in attempts:
            resp = await api.client.post(
                url.format(case_id), headers=api.auth("hotline"), json=body
            )
            answers.append((resp.status, (await resp.json()).get("detail", "")))
    assert [status for status, _ in answers] == [409, 409, 409, 409, 422]
    assert "removed" in answers[0][1] and "failing" in answers[2][1]
    assert await events(pool, open_case, "routed") == []


@pytest.fixture
async def client(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(create_app(settings, pool)))
    await client.start_server()
    yield client
    await client.close()


async def test_case_page_offers_both_actions_with_csrf(
    client: TestClient, pool: asyncpg.Pool
) -> None:
    case_id = await _unresolved(pool, "http://orphan.example/p.png")
    async with pool.acquire() as conn:
        await analyst(conn, "alice")
    await log_in(client, "alice")
    page = await (await client.get(f"/oversight/cases/{case_id}")).text()
    assert 'id="action-re_resolve"' in page and 'id="action-route"' in page
    url = f"/oversight/cases/{case_id}/actions"
    forged = await client.post(
        url, data={"action": "route", "address": RESELLER}, allow_redirects=False
    )
    assert forged.status in (400, 403)
    done = await client.post(
        url,
        data={"action": "route", "address": RESELLER, "csrf": csrf_of(page)},
        allow_redirects=False,
    )
    assert done.status == 303
    [routed] = await events(pool, case_id, "routed")
    assert routed["actor"] == "analyst:alice" and routed["detail"]["address"] == RESELLER
    after = await (await client.get(f"/oversight/cases/{case_id}")).text()
    assert "routed: unresolved → resolved" in after
