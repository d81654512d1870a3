"""The oversight JSON API (hotline token), the CLI, content movement and hold lifting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from service.db import cases
from service.domain.states import CaseState
from service.settings import Settings
from service.usecases import oversee
from tests.integration.api_client import running_api
from tests.integration.cli_runner import takedown
from tests.integration.oversight.pages import notified_case
from tests.integration.oversight.world import ROUTE, add_case, events, scanner, takedown_with_stdin

SHARED = "ab" * 32


async def test_api_refuses_without_hotline_token(settings: Settings, pool: asyncpg.Pool) -> None:
    async with running_api(settings, pool) as api:
        anonymous = await api.client.get("/api/v1/oversight/queues/overdue")
        scanner_token = await api.client.get(
            "/api/v1/oversight/queues/overdue", headers=api.auth("scanner")
        )
        hotline = await api.client.get(
            "/api/v1/oversight/queues/overdue", headers=api.auth("hotline")
        )
        assert (anonymous.status, scanner_token.status, hotline.status) == (401, 403, 200)
        scanner_page = await api.client.get(
            "/oversight/queues/overdue", headers=api.auth("hotline"), allow_redirects=False
        )
        assert scanner_page.status == 303  # pages want an analyst session, not a token


async def test_api_queue_pages_by_keyset(settings: Settings, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        ids = [
            await notified_case(conn, sid, f"http://x.example/{n}.png", hours_ago=100 - n)
            for n in range(5)
        ]
    async with running_api(settings, pool) as api:
        seen, after = [], None
        for _ in range(3):
            params = {"limit": "2", "sort": "deadline", **({"after": after} if after else {})}
            body = await (
                await api.client.get(
                    "/api/v1/oversight/queues/overdue", params=params, headers=api.auth("hotline")
                )
            ).json()
            seen += [item["id"] for item in body["items"]]
            after = body["next_after"]
        assert seen == ids and after is None  # oldest deadline first, each case once
        spec = await (await api.client.get("/api/v1/openapi.json")).json()
        assert "/api/v1/oversight/queues/{queue}" in spec["paths"]
        assert "/api/v1/oversight/holds" in spec["paths"]


async def test_api_statistics_page_by_page_most_items_first(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        for n, hoster in enumerate(["Big", "Big", "Big", "Mid", "Mid", "Small"]):
            route = {**ROUTE, "hoster": hoster}
            await notified_case(conn, sid, f"http://{n}.example/x.png", hours_ago=5, route=route)
    async with running_api(settings, pool) as api:
        pages = []
        for page in ("1", "2", "3", "4"):
            response = await api.client.get(
                "/api/v1/oversight/stats",
                params={"by": "hoster", "limit": "1", "page": page},
                headers=api.auth("hotline"),
            )
            body = await response.json()
            assert body["groups_total"] == 3 and body["limit"] == 1
            pages.append([(g["group"], g["items"]) for g in body["groups"]])
        assert pages == [[("Big", 3)], [("Mid", 2)], [("Small", 1)], []]
        too_many = await api.client.get(
            "/api/v1/oversight/stats", params={"limit": "1001"}, headers=api.auth("hotline")
        )
        assert too_many.status == 400


async def test_api_hold_and_lift_send_the_case_back_to_the_outbox(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        case_id = await add_case(conn, sid, "http://held.example/1.png", route=ROUTE)
    async with running_api(settings, pool) as api:
        placed = await api.client.post(
            "/api/v1/oversight/holds",
            headers=api.auth("supervisor"),
            json={"domain": "held.example", "reason": "police request"},
        )
        assert placed.status == 201
        hold = (await placed.json())["result"]
        assert hold["cases_held"] == 1
        lifted = await api.client.post(
            f"/api/v1/oversight/holds/{hold['id']}/lift", headers=api.auth("supervisor")
        )
        assert (await lifted.json())["result"]["cases_released"] == 1
    states = [e["to_state"] for e in await events(pool, case_id)]
    assert states[-2:] == ["held", "resolved"]
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE kind = 'outbox' AND case_id = $1", case_id
            )
            == 1
        )


async def test_only_a_supervisor_token_places_or_lifts_holds_as_on_the_pages(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        case_id = await add_case(conn, sid, "http://held.example/2.png", route=ROUTE)
        hold = await oversee.place_hold(
            conn, actor="analyst:sue", reason="police request", hoster="Other Host"
        )
    async with running_api(settings, pool) as api:
        hotline = api.auth("hotline")
        place = await api.client.post(
            "/api/v1/oversight/holds", headers=hotline, json={"case_id": case_id, "reason": "x"}
        )
        action = await api.client.post(
            f"/api/v1/oversight/cases/{case_id}/actions", headers=hotline, json={"action": "hold"}
        )
        lift = await api.client.post(f"/api/v1/oversight/holds/{hold['id']}/lift", headers=hotline)
        listed = await api.client.get("/api/v1/oversight/holds", headers=hotline)
        by_supervisor = await api.client.post(
            f"/api/v1/oversight/cases/{case_id}/actions",
            headers=api.auth("supervisor"),
            json={"action": "hold", "note": "police request"},
        )
        refusal = await place.json()
        active = [h["id"] for h in (await listed.json())["holds"]]
        spec = await (await api.client.get("/api/v1/openapi.json")).json()
    assert (place.status, action.status, lift.status) == (403, 403, 403)
    assert refusal["type"] == "/problems/forbidden"
    assert listed.status == 200 and active == [hold["id"]]
    assert by_supervisor.status == 200
    assert [(e["actor"], e["to_state"]) for e in await events(pool, case_id, "hold")] == [
        ("hotline:chief", "held")
    ]
    assert "supervisor" in spec["paths"]["/api/v1/oversight/holds"]["post"]["description"]


async def test_content_movement_shows_where_removed_content_went(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        sid = await scanner(conn)
        first = await notified_case(
            conn, sid, "http://one.example/a.png", hours_ago=48, sha256=SHARED
        )
        await cases.transition(
            conn,
            first,
            CaseState.GONE_PENDING,
            actor="test",
            stamp="first_gone_at",
            at=datetime.now(UTC) - timedelta(hours=40),
        )
        other = {**ROUTE, "hoster": "Next Host", "country": "SE"}
        await notified_case(
            conn, sid, "http://two.example/a.png", hours_ago=10, sha256=SHARED, route=other
        )
    async with running_api(settings, pool) as api:
        body = await (
            await api.client.get(f"/api/v1/oversight/content/{SHARED}", headers=api.auth("hotline"))
        ).json()
    assert [row["url"] for row in body["timeline"]] == [
        "http://one.example/a.png",
        "http://two.example/a.png",
    ]
    [move] = body["moves"]
    assert (move["from_hoster"], move["to_hoster"], move["to_country"], move["moves"]) == (
        "Never Removes Ltd",
        "Next Host",
        "SE",
        1,
    )


async def test_cli_creates_analysts_and_holds(db_url: str, pool: asyncpg.Pool) -> None:
    create = ("analyst", "create", "--password-stdin", "--name")
    code, _out, err = await takedown_with_stdin(*create, "bob", db_url=db_url, stdin="short\n")
    assert code != 0 and "at least" in err
    code, _out, err = await takedown_with_stdin(
        *create, "Bob", "--role", "supervisor", db_url=db_url, stdin="a long enough secret\n"
    )
    assert code == 0, err
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT username, role::text, password_hash FROM analysts")
        sid = await scanner(conn)
        case_id = await notified_case(conn, sid, "http://cli.example/1.png", hours_ago=1)
    assert (row["username"], row["role"]) == ("bob", "supervisor")
    assert "a long enough secret" not in row["password_hash"]
    added = await takedown(
        "hold",
        "add",
        "--case",
        str(case_id),
        "--reason",
        "LE request 7",
        "--by",
        "carol",
        db_url=db_url,
    )
    assert added.code == 0 and "1 case(s) held" in added.out
    [hold] = await events(pool, case_id, "hold")
    assert hold["actor"] == "cli:carol"
    stats = await takedown("stats-by", "--by", "country", db_url=db_url)
    assert stats.code == 0 and "NL" in stats.out


async def test_api_answers_hostile_input_without_server_errors(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    async with running_api(settings, pool) as api:
        hotline = api.auth("hotline")
        queue = "/api/v1/oversight/queues/overdue"
        for limit in ("abc", "²", "0", "99999999999999999999"):
            odd = await api.client.get(queue, params={"limit": limit}, headers=hotline)
            assert odd.status == 400, limit
        nul = await api.client.get(queue, params={"hoster": "a\x00b"}, headers=hotline)
        assert nul.status in (200, 400)
        bad_cursor = await api.client.get(queue, params={"after": "not-a-cursor"}, headers=hotline)
        assert bad_cursor.status == 400
        supervisor = api.auth("supervisor")
        huge = await api.client.post(
            "/api/v1/oversight/holds", headers=supervisor, json={"case_id": 2**70, "reason": "x"}
        )
        assert huge.status == 422
        nul = await api.client.post(
            "/api/v1/oversight/holds", headers=supervisor, json={"hoster": "a", "reason": "a\x00b"}
        )
        assert nul.status == 422
