"""GET /api/v1/cases: a scanner's outcome feed, keyset-paged, gap-free under concurrent commits."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from service.settings import Settings
from tests.conftest import fresh_database
from tests.integration.api_client import Api, running_api
from tests.integration.feed.world import S, move, new_cases, notified
from tests.integration.oversight.world import eventually


@pytest.fixture
async def api(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    # the readers below poll as fast as they can: no per-token rate limit in the way
    unlimited = settings.model_copy(update={"rate_limit_burst": 1_000_000})
    async with running_api(unlimited, pool) as api:
        yield api


async def page(api: Api, since: str | None = None, limit: int = 100, role: str = "scanner") -> Any:
    params: dict[str, Any] = {"limit": limit}
    if since is not None:
        params["since"] = since
    resp = await api.client.get("/api/v1/cases", params=params, headers=api.auth(role))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def drain(api: Api, since: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """Every item after `since`, page by page; and the last cursor."""
    items: list[dict[str, Any]] = []
    while True:
        body = await page(api, since, limit)
        items += body["items"]
        if since is not None and not body["items"]:
            assert body["next"] == since
        since = body["next"]
        if not body["items"]:
            return items, since


async def test_the_feed_lists_own_outcomes_in_order_page_by_page(
    api: Api, pool: asyncpg.Pool
) -> None:
    first, second = await new_cases(pool, "scanner-a", [1, 2])
    [others] = await new_cases(pool, "scanner-b", [3])
    async with pool.acquire() as conn:
        await notified(conn, first)
        await notified(conn, others)
        await notified(conn, second)
        await move(conn, first, S.ACKNOWLEDGED, S.GONE_PENDING, S.REMOVED)
    items = await eventually(lambda: _all_items(api, 4))
    assert [(i["case_id"], i["outcome"]) for i in items] == [
        (first, "notified"),
        (second, "notified"),
        (first, "acknowledged"),
        (first, "removed"),
    ]
    assert items[-1]["state"] == "removed" and items[0]["state"] == "notified"
    assert items[-1]["removed_at"] and items[-1]["first_gone_at"]  # the removal clock
    assert items[0]["source_ref"] == "ref-1" and items[0]["url"].endswith("/img/1.jpg")
    one_by_one, cursor = await drain(api, None, 1)
    assert one_by_one == items
    # nothing new: the same cursor comes back, with no item
    assert await page(api, cursor) == {"items": [], "next": cursor}
    async with pool.acquire() as conn:
        await move(conn, second, S.ACKNOWLEDGED)
    later = await eventually(lambda: _items_after(api, cursor))
    assert [(i["case_id"], i["outcome"]) for i in later] == [(second, "acknowledged")]
    other_scanner = await page(api, role="scanner-b")
    assert [i["case_id"] for i in other_scanner["items"]] == [others]


async def _all_items(api: Api, expected: int) -> list[dict[str, Any]] | None:
    body = await page(api, None, 100)
    return body["items"] if len(body["items"]) >= expected else None


async def _items_after(api: Api, cursor: str) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = (await page(api, cursor))["items"]
    return body


async def test_a_later_commit_of_an_earlier_outcome_is_not_skipped(
    api: Api, pool: asyncpg.Pool
) -> None:
    """Transaction A records an outcome first but commits after B: a reader that saw B's
    outcome and moved its cursor past it must still get A's (an id cursor would skip it)."""
    early, late = await new_cases(pool, "scanner-a", [1, 2])
    async with pool.acquire() as conn:
        await move(conn, early, S.RESOLVING, S.RESOLVED)
        await move(conn, late, S.RESOLVING, S.RESOLVED)
    conn_a = await pool.acquire()
    try:
        tx_a = conn_a.transaction()
        await tx_a.start()
        await move(conn_a, early, S.NOTIFIED)  # takes the lower outcome id, stays open
        async with pool.acquire() as conn_b:
            await move(conn_b, late, S.NOTIFIED)  # commits first
        seen, cursor = await drain(api, None, 10)
        assert seen == []  # B's outcome waits behind A's open transaction
        await tx_a.commit()
    finally:
        await pool.release(conn_a)
    items = await eventually(lambda: _at_least(api, cursor, 2))
    assert [i["case_id"] for i in items] == [early, late]


async def test_a_transaction_open_in_another_database_does_not_hold_the_feed_back(
    api: Api, pool: asyncpg.Pool, template_db: str
) -> None:
    """A bulk load or a stuck session in another database of the same server has a
    transaction id below ours; it can never write an outcome here, so it must not stall the
    scanners' feed (and their webhooks) until it ends."""
    [case_id] = await new_cases(pool, "scanner-a", [1])
    async with fresh_database(template_db) as elsewhere:
        other = await asyncpg.connect(elsewhere)
        try:
            async with other.transaction():
                await other.fetchval("SELECT pg_current_xact_id()")  # holds a transaction id
                async with pool.acquire() as conn:
                    await move(conn, case_id, S.RESOLVING, S.RESOLVED, S.NOTIFIED)
                items, _ = await drain(api, None, 10)
        finally:
            await other.close()
    assert [(i["case_id"], i["outcome"]) for i in items] == [(case_id, "notified")]


async def _at_least(api: Api, cursor: str | None, n: int) -> list[dict[str, Any]] | None:
    items, _ = await drain(api, cursor, 1)
    return items if len(items) >= n else None


async def test_concurrent_writers_neither_gap_nor_repeat(api: Api, pool: asyncpg.Pool) -> None:
    numbers = list(range(40))
    case_ids = await new_cases(pool, "scanner-a", numbers)
    async with pool.acquire() as conn:
        for case_id in case_ids:
            await move(conn, case_id, S.RESOLVING, S.RESOLVED)
    stop = asyncio.Event()
    seen: list[dict[str, Any]] = []

    async def reader() -> None:
        cursor: str | None = None
        while not stop.is_set() or len(seen) < 2 * len(case_ids):
            body = await page(api, cursor, 7)
            seen.extend(body["items"])
            cursor = body["next"]
            await asyncio.sleep(0)

    async def writer(ids: list[int]) -> None:
        for case_id in ids:
            async with pool.acquire() as conn, conn.transaction():
                await move(conn, case_id, S.NOTIFIED)
                await asyncio.sleep(random.random() / 50)  # commit out of id order
                await move(conn, case_id, S.ACKNOWLEDGED)

    reading = asyncio.create_task(reader())
    await asyncio.gather(*(writer(case_ids[i::5]) for i in range(5)))
    stop.set()
    await asyncio.wait_for(reading, timeout=60)
    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids)), "an outcome was delivered twice"
    recorded = {str(r["id"]) for r in await pool.fetch("SELECT id FROM scanner_outcomes")}
    assert set(ids) == recorded and len(ids) == 2 * len(case_ids)
    for case_id in case_ids:  # per case, in the order they happened
        outcomes = [i["outcome"] for i in seen if i["case_id"] == case_id]
        assert outcomes == ["notified", "acknowledged"]


@pytest.mark.parametrize(
    ("query", "slug"),
    [
        ({"since": "nonsense"}, "bad-cursor"),
        ({"since": "c1.!!!"}, "bad-cursor"),
        ({"since": "c1.MQ"}, "bad-cursor"),  # "1": a position has two parts
        ({"limit": "0"}, "bad-limit"),
        ({"limit": "1001"}, "bad-limit"),
        ({"limit": "ten"}, "bad-limit"),
    ],
)
async def test_bad_cursors_and_limits_are_problems(
    api: Api, query: dict[str, str], slug: str
) -> None:
    resp = await api.client.get("/api/v1/cases", params=query, headers=api.auth("scanner"))
    assert resp.status == 400
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["type"] == f"/problems/{slug}"


async def test_only_scanner_tokens_read_the_feed(api: Api) -> None:
    resp = await api.client.get("/api/v1/cases", headers=api.auth("hotline"))
    assert resp.status == 403
