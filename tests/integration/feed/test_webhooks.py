"""Webhooks: outcomes delivered to a real receiver on loopback that verifies the Standard
Webhooks signature, in order per case, retried, parked, and guarded like the probe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from service import observability as obs
from service.db.tokens import create_token, revoke_token
from service.settings import Settings
from service.usecases.webhooks import add_webhook
from tests.conftest import make_settings
from tests.integration.api_client import Api, running_api
from tests.integration.feed.receiver import Receiver
from tests.integration.feed.world import S, move, new_cases, notified
from tests.integration.oversight.pages import analyst, csrf_of, log_in
from tests.integration.oversight.world import eventually, running_stages


def fast(db_url: str, **changes: object) -> Settings:
    """A week of retries in a second; loopback receivers allowed."""
    base: dict[str, object] = {
        "allow_private_targets": True,
        "webhook_retry_base": timedelta(milliseconds=20),
        "webhook_retry_max": timedelta(milliseconds=100),
        "webhook_retry_for": timedelta(seconds=30),
        "webhook_poll_interval": 0.05,
        "webhook_timeout": 0.5,
        "worker_poll_interval": 0.05,
        "lease": timedelta(seconds=5),
    }
    return make_settings(db_url, **(base | changes))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


@pytest.fixture
async def scanner(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn:
        await create_token(conn, "scanner-a", "scanner")
        await create_token(conn, "scanner-b", "scanner")
    return "scanner-a"


async def _lifecycle(pool: asyncpg.Pool, case_ids: list[int]) -> None:
    async with pool.acquire() as conn:
        for case_id in case_ids:
            await notified(conn, case_id)
        for case_id in case_ids:
            await move(conn, case_id, S.ACKNOWLEDGED, S.GONE_PENDING, S.REMOVED)


FULL = ["notified", "acknowledged", "removed"]


async def test_outcomes_arrive_signed_and_in_order(
    db_url: str, pool: asyncpg.Pool, receiver: Receiver, scanner: str
) -> None:
    settings = fast(db_url)
    hook = await add_webhook(pool, scanner, receiver.url, actor="test")
    receiver.secret = hook.secret
    assert hook.secret.startswith("whsec_")
    case_ids = await new_cases(pool, scanner, [1, 2, 3])
    [other] = await new_cases(pool, "scanner-b", [9])
    # two workers side by side: the receiver's job is held by one at a time
    async with running_stages(pool, settings, ("webhook", "webhook")):
        await _lifecycle(pool, [*case_ids, other])
        await eventually(lambda: _all_taken(receiver, case_ids, FULL))
    assert receiver.bad_signatures == 0
    assert all(m["data"]["case_id"] != other for m in receiver.taken)  # own cases only
    first = receiver.taken[0]
    assert first["type"] == "case.notified"
    assert set(first["data"]) == {
        "id",
        "case_id",
        "url",
        "source_ref",
        "outcome",
        "at",
        "state",
        "reason",
        "first_gone_at",
        "removed_at",
    }
    assert first["id"] == f"msg_{first['data']['id']}"


async def _all_taken(receiver: Receiver, case_ids: list[int], expected: list[str]) -> bool:
    return all(receiver.outcomes(c) == expected for c in case_ids)


async def test_a_receiver_that_fails_is_slow_or_down_still_gets_everything_in_order(
    db_url: str, pool: asyncpg.Pool, receiver: Receiver, scanner: str
) -> None:
    settings = fast(db_url)
    hook = await add_webhook(pool, scanner, receiver.url, actor="test")
    receiver.secret = hook.secret
    case_ids = await new_cases(pool, scanner, [1, 2, 3, 4])
    async with running_stages(pool, settings, ("webhook",)):
        receiver.fail_next = 5  # 500 for a while
        async with pool.acquire() as conn:
            for case_id in case_ids:
                await notified(conn, case_id)
        await eventually(lambda: _refused_all(receiver))
        receiver.delay = 0.8  # slower than the 0.5 s timeout: every attempt times out
        async with pool.acquire() as conn:
            for case_id in case_ids:
                await move(conn, case_id, S.ACKNOWLEDGED)
        tried = len(receiver.ids)
        await eventually(lambda: _at_least(len(receiver.ids), tried + 3))
        await receiver.stop()  # down: connections refused
        async with pool.acquire() as conn:
            for case_id in case_ids:
                await move(conn, case_id, S.GONE_PENDING, S.REMOVED)
        attempts = await pool.fetchval("SELECT sum(attempts) FROM webhook_deliveries")
        await eventually(lambda: _more_attempts(pool, attempts + 4))
        receiver.delay = 0.0
        await receiver.start()  # back on the same port
        await eventually(lambda: _all_taken(receiver, case_ids, FULL))
    assert receiver.refused == 5 and receiver.bad_signatures == 0
    # at least once, never out of order: repeats only of the latest message of a case
    for case_id in case_ids:
        ids = [m["id"] for m in receiver.taken if m["data"]["case_id"] == case_id]
        assert ids == sorted(ids, key=lambda i: int(i.removeprefix("msg_")))


async def _refused_all(receiver: Receiver) -> bool:
    return receiver.fail_next == 0


async def _at_least(value: int, minimum: int) -> bool:
    return value >= minimum


async def _more_attempts(pool: asyncpg.Pool, at_least: int) -> bool:
    return bool(await pool.fetchval("SELECT sum(attempts) FROM webhook_deliveries") >= at_least)


async def test_deliveries_failing_for_the_retry_period_are_parked_and_shown_to_analysts(
    db_url: str, pool: asyncpg.Pool, receiver: Receiver
) -> None:
    settings = fast(db_url, webhook_retry_for=timedelta(milliseconds=300))
    parked_before = _count("parked")  # the counters are process-wide
    async with running_api(settings, pool) as api, running_stages(pool, settings, ("webhook",)):
        hotline = api.auth("hotline")
        resp = await api.client.post(
            "/api/v1/webhooks", json={"scanner": "scanner-a", "url": receiver.url}, headers=hotline
        )
        hook = await resp.json()
        receiver.secret = hook["secret"]
        [case_id] = await new_cases(pool, "scanner-a", [1])
        receiver.fail_next = 10**6  # broken for good
        async with pool.acquire() as conn:
            await notified(conn, case_id)
            await move(conn, case_id, S.ACKNOWLEDGED)
        parked = await eventually(lambda: _parked(api))
        assert _count("parked") == parked_before + 1 and _count("failed") >= 1
        assert [(p["case_id"], p["outcome"]) for p in parked] == [(case_id, "notified")]
        assert parked[0]["last_error"] == "HTTP 500" and parked[0]["attempts"] >= 2
        # the case's later outcome waits behind the parked one: never sent out of order
        assert len(set(receiver.ids)) == 1
        # the analysts' page shows it and sends it again
        async with pool.acquire() as conn:
            await analyst(conn, "alice")
        await log_in(api.client, "alice")
        page = await (await api.client.get("/oversight/webhooks")).text()
        assert "HTTP 500" in page and f"/oversight/cases/{case_id}" in page
        receiver.fail_next = 0
        resp = await api.client.post(
            f"/oversight/webhooks/{hook['id']}/retry",
            data={"csrf": csrf_of(page)},
            allow_redirects=False,
        )
        assert resp.status == 303
        await eventually(lambda: _all_taken(receiver, [case_id], ["notified", "acknowledged"]))
        assert await _parked(api) == []
        resp = await api.client.post(
            f"/api/v1/oversight/webhooks/{hook['id']}/retry", headers=hotline
        )
        assert await resp.json() == {"retried": 0}
        # a removed receiver's parked deliveries are nobody's work any more
        receiver.fail_next = 10**6
        async with pool.acquire() as conn:
            await move(conn, case_id, S.GONE_PENDING, S.REMOVED)
        await eventually(lambda: _parked(api))
        await api.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=hotline)
        assert await _parked(api) == []


async def _parked(api: Api) -> list[dict[str, Any]]:
    resp = await api.client.get("/api/v1/oversight/webhooks/parked", headers=api.auth("hotline"))
    assert resp.status == 200
    deliveries: list[dict[str, Any]] = (await resp.json())["deliveries"]
    return deliveries


async def test_a_receiver_on_a_private_address_is_refused_unless_allowed(
    db_url: str, pool: asyncpg.Pool, receiver: Receiver, scanner: str
) -> None:
    settings = fast(db_url, allow_private_targets=False)
    hook = await add_webhook(pool, scanner, receiver.url, actor="test")
    receiver.secret = hook.secret
    [case_id] = await new_cases(pool, scanner, [1])
    async with running_stages(pool, settings, ("webhook",)):
        async with pool.acquire() as conn:
            await notified(conn, case_id)
        error = await eventually(
            lambda: pool.fetchval("SELECT last_error FROM webhook_deliveries WHERE attempts > 0")
        )
    assert "public" in error or "refused" in error.lower(), error
    assert receiver.ids == []  # nothing reached the loopback receiver


def _count(result: str) -> float:
    value = obs.REGISTRY.get_sample_value("takedown_webhook_deliveries_total", {"result": result})
    return value or 0.0


async def test_a_revoked_scanner_gets_nothing_more(
    db_url: str, pool: asyncpg.Pool, receiver: Receiver, scanner: str
) -> None:
    settings = fast(db_url)
    hook = await add_webhook(pool, scanner, receiver.url, actor="test")
    receiver.secret = hook.secret
    first, second = await new_cases(pool, scanner, [1, 2])
    async with running_stages(pool, settings, ("webhook",)):
        async with pool.acquire() as conn:
            await notified(conn, first)
        await eventually(lambda: _all_taken(receiver, [first], ["notified"]))
        async with pool.acquire() as conn:
            await revoke_token(conn, scanner)
            await notified(conn, second)
        # the receiver's job ends: it is gone from the queue once the stage saw the revocation
        await eventually(lambda: _no_job(pool))
    assert receiver.outcomes(second) == []


async def _no_job(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'webhook'")
