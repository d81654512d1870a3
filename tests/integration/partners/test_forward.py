"""Two instances of the service on loopback (two apps, two databases): ours forwards a case
hosted in a 'forward' country to the partner hotline's instance and mirrors the partner's
outcomes with the partner's times; a partner that stays unreachable falls back to our mail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp.test_utils import TestServer

from service.db import cases, jobs
from service.db.pool import pool_for
from service.db.probe_repo import stamp_first_gone
from service.db.tokens import create_token
from service.domain.states import CaseState
from service.usecases import oversee, partners, withdraw
from service.web.app import create_app
from service.workers.outbox_stage import OutboxStage
from service.workers.partner_stage import PartnerStage
from tests.conftest import fresh_database, make_settings
from tests.integration.api_client import running_api
from tests.integration.cli_runner import takedown
from tests.integration.notify.conftest import drain, make_due
from tests.integration.oversight.world import ROUTE, add_case, eventually, scanner
from tests.integration.withdraw.helpers import case_row, outcomes

SHA = "9f" * 32
URL = "http://img.partner-hosted.example/a.png"
FORWARD_ROUTE = ROUTE | {
    "country": "BE",
    "hotline": {"country": "BE", "name": "Child Focus", "address": None, "policy": "forward"},
}


@dataclass
class Partner:
    """The partner hotline's own instance: its database and its HTTP API on loopback."""

    pool: asyncpg.Pool
    base: str
    token: str  # the scanner token it issued to us


@asynccontextmanager
async def partner_instance(template_db: str) -> AsyncIterator[Partner]:
    async with fresh_database(template_db) as dsn, pool_for(dsn, min_size=1, max_size=4) as pool:
        async with pool.acquire() as conn:
            _, secret = await create_token(conn, "hotline-be-partner-of-nl", "scanner")
        server = TestServer(create_app(make_settings(dsn), pool))
        await server.start_server()
        try:
            yield Partner(pool, str(server.make_url("")).rstrip("/"), secret)
        finally:
            await server.close()


async def _forwarded_case(pool: asyncpg.Pool, settings: Any, partner_url: str, token: str) -> int:
    await partners.set_hotline(
        pool, "BE", name="Child Focus", address=None, language=None, policy="forward",
        url=partner_url, token=token,
    )  # fmt: skip
    async with pool.acquire() as conn:
        case_id = await add_case(conn, await scanner(conn), URL, route=FORWARD_ROUTE, sha256=SHA)
        await jobs.enqueue_for_case(conn, "outbox", case_id)
    await drain(pool, OutboxStage(pool, settings))
    await drain(pool, PartnerStage(pool, settings))
    return case_id


async def _partner_works(partner: Partner, case_id: int) -> dict[str, datetime]:
    """The partner's own lifecycle of its case (as its stages would record it); the times the
    partner's scanner side shows: its outcomes' times and its removal clock."""
    async with partner.pool.acquire() as conn:
        for state in ("resolving", "resolved"):
            await cases.transition(conn, case_id, CaseState(state), actor="test")
        await cases.transition(
            conn, case_id, CaseState.NOTIFIED, actor="worker:notify", stamp="first_notice_at"
        )
        await cases.transition(
            conn, case_id, CaseState.ACKNOWLEDGED, actor="hoster", stamp="acknowledged_at"
        )
        await cases.transition(conn, case_id, CaseState.GONE_PENDING, actor="worker:probe")
        await stamp_first_gone(conn, case_id, datetime.now(UTC) - timedelta(minutes=40))
        await cases.transition(
            conn, case_id, CaseState.REMOVED, actor="worker:probe", stamp="removed_at"
        )
        case = await conn.fetchrow("SELECT * FROM cases WHERE id = $1", case_id)
        told = await conn.fetch(
            "SELECT outcome, at FROM scanner_outcomes WHERE case_id = $1", case_id
        )
    at = {row["outcome"]: row["at"] for row in told}
    return {
        "first_notice_at": at["notified"],
        "acknowledged_at": at["acknowledged"],
        "first_gone_at": case["first_gone_at"],
        "removed_at": case["removed_at"],
    }


async def test_a_forwarded_case_mirrors_the_partners_outcomes_with_its_times(
    pool: asyncpg.Pool, db_url: str, template_db: str
) -> None:
    settings = make_settings(db_url)
    async with partner_instance(template_db) as partner:
        case_id = await _forwarded_case(pool, settings, partner.base, partner.token)
        ours = await case_row(pool, case_id)
        async with pool.acquire() as conn:
            forward = await conn.fetchrow("SELECT * FROM forwards WHERE case_id = $1", case_id)
        async with partner.pool.acquire() as conn:
            theirs = await conn.fetchrow(
                "SELECT * FROM cases WHERE id = $1", forward["partner_case_id"]
            )
        assert ours["state"] == "forwarded" and forward["state"] == "submitted"
        assert (theirs["url"], theirs["sha256"]) == (URL, SHA)
        assert f"TT-C{case_id:07d}" in theirs["source_ref"]  # the partner can ask us about it
        assert await outcomes(pool, case_id) == [("notified", None)]
        async with pool.acquire() as conn:
            notices = await conn.fetchval(
                "SELECT count(*) FROM notice_items WHERE case_id = $1", case_id
            )
        assert notices == 0  # nothing mailed by us

        times = await _partner_works(partner, theirs["id"])

        async def polled() -> bool:
            # The partner's feed shows a transaction once every older one on its server has
            # ended (its gap-free order; on a shared test server, other databases' transactions
            # count too), so a poll may come back empty first: poll again.
            await make_due(pool, "partners")
            await drain(pool, PartnerStage(pool, settings))
            return (await case_row(pool, case_id))["state"] == "removed"

        await eventually(polled, timeout=90, interval=0.2)

    mirrored = await case_row(pool, case_id)
    assert mirrored["state"] == "removed"
    for column, at in times.items():  # time to removal is the same data on both sides
        assert mirrored[column] == at, column
    assert [o for o, _ in await outcomes(pool, case_id)] == ["notified", "acknowledged", "removed"]


async def test_an_unreachable_partner_falls_back_to_our_mail(
    pool: asyncpg.Pool, db_url: str
) -> None:
    settings = make_settings(db_url, partner_fallback_after=timedelta(0), partner_timeout=2.0)
    # Nothing listens there: the partner's instance is down.
    case_id = await _forwarded_case(pool, settings, "http://127.0.0.1:9", "secret")
    await drain(pool, OutboxStage(pool, settings))  # the fallback's outbox job
    async with pool.acquire() as conn:
        forward = await conn.fetchrow("SELECT * FROM forwards WHERE case_id = $1", case_id)
        items = await conn.fetch(
            "SELECT n.recipient FROM notice_items i JOIN notices n ON n.id = i.notice_id"
            " WHERE i.case_id = $1",
            case_id,
        )
        fallback = await conn.fetchval(
            "SELECT detail->>'reason' FROM case_events WHERE case_id = $1"
            " AND kind = 'forward_fallback'",
            case_id,
        )
    assert forward["state"] == "fallen_back" and forward["attempts"] == 1
    assert "unreachable" in fallback
    # Mailed as under 'direct': the hoster's own desk.
    assert [r["recipient"] for r in items] == [ROUTE["recipients"][0]["address"]]
    assert (await case_row(pool, case_id))["state"] == "resolved"  # until the notice leaves


async def test_a_partners_dispute_and_withdrawal_reach_our_scanner(
    pool: asyncpg.Pool, db_url: str, template_db: str
) -> None:
    settings = make_settings(db_url)
    async with partner_instance(template_db) as partner:
        case_id = await _forwarded_case(pool, settings, partner.base, partner.token)
        async with pool.acquire() as conn:
            theirs = await conn.fetchval(
                "SELECT partner_case_id FROM forwards WHERE case_id = $1", case_id
            )
        async with partner.pool.acquire() as conn:
            # The partner's hoster disputes on its acknowledgment page; the partner agrees
            # and withdraws the hash.
            await cases.add_event(
                conn, theirs, actor="hoster:abuse@host.example", kind="ack_dispute",
                detail={"dispute_reason": "wrong_match", "note": "our logo"},
            )  # fmt: skip
        await withdraw.withdraw_hash(
            partner.pool, make_settings(db_url), f"sha256:{SHA}", reason="stock photo",
            actor="supervisor:be",
        )  # fmt: skip

        async def polled() -> bool:
            await make_due(pool, "partners")
            await drain(pool, PartnerStage(pool, settings))
            return (await case_row(pool, case_id))["state"] == "withdrawn"

        await eventually(polled, timeout=90, interval=0.2)
    assert await outcomes(pool, case_id) == [
        ("notified", None),
        ("disputed", "wrong_match"),
        ("withdrawn", "hash_withdrawn"),
    ]


async def test_the_forward_policy_needs_the_partners_url_and_token(
    pool: asyncpg.Pool, db_url: str
) -> None:
    missing = await takedown(
        "hotlines", "set", "BE", "--name", "Child Focus", "--policy", "forward", db_url=db_url
    )
    assert missing.code == 1 and "needs --url and --token" in missing.err
    done = await takedown(
        "hotlines", "set", "BE", "--name", "ChildFocus", "--policy", "forward",
        "--url", "https://tt.partner.example/", "--token", "s3cret-token", db_url=db_url,
    )  # fmt: skip
    assert done.code == 0 and "policy forward" in done.out
    listed = await takedown("hotlines", "list", db_url=db_url)
    assert "https://tt.partner.example" in listed.out and "s3cret" not in listed.out
    async with running_api(make_settings(db_url), pool) as api:
        refused = await api.client.put(
            "/api/v1/hotlines/NL",
            json={"name": "Meldpunt", "policy": "forward", "url": "https://tt.nl.example"},
            headers=api.auth("hotline"),
        )
        shown = await api.client.get("/api/v1/hotlines", headers=api.auth("hotline"))
        hotlines = (await shown.json())["hotlines"]
    assert refused.status == 422
    assert [(h["country"], h["policy"], h["url"]) for h in hotlines] == [
        ("BE", "forward", "https://tt.partner.example")
    ]
    assert all("token" not in h for h in hotlines)


async def test_a_partner_whose_feed_stays_down_gets_its_open_cases_back_to_our_mail(
    pool: asyncpg.Pool, db_url: str, template_db: str
) -> None:
    async with partner_instance(template_db) as partner:
        case_id = await _forwarded_case(pool, make_settings(db_url), partner.base, partner.token)
    assert (await case_row(pool, case_id))["state"] == "forwarded"
    # The partner's instance is gone; a day (here: no time at all) later, we mail ourselves.
    settings = make_settings(db_url, partner_fallback_after=timedelta(0), partner_timeout=2.0)
    await make_due(pool, "partners")
    await drain(pool, PartnerStage(pool, settings))
    await drain(pool, OutboxStage(pool, settings))
    async with pool.acquire() as conn:
        forward = await conn.fetchrow("SELECT * FROM forwards WHERE case_id = $1", case_id)
        feed = await conn.fetchrow("SELECT * FROM partner_feeds WHERE country = 'BE'")
        items = await conn.fetchval("SELECT count(*) FROM notice_items WHERE case_id = $1", case_id)
    assert forward["state"] == "fallen_back" and "feed" in forward["last_error"]
    assert feed["failing_since"] is not None
    assert (await case_row(pool, case_id))["state"] == "resolved" and items == 1


async def test_a_case_held_before_its_hand_over_is_forwarded_once_the_hold_is_lifted(
    pool: asyncpg.Pool, db_url: str, template_db: str
) -> None:
    settings = make_settings(db_url)
    async with partner_instance(template_db) as partner:
        await partners.set_hotline(
            pool, "BE", name="Child Focus", address=None, language=None, policy="forward",
            url=partner.base, token=partner.token,
        )  # fmt: skip
        async with pool.acquire() as conn:
            case_id = await add_case(conn, await scanner(conn), URL, route=FORWARD_ROUTE)
            await jobs.enqueue_for_case(conn, "outbox", case_id)
        await drain(pool, OutboxStage(pool, settings))  # the hand-over is opened …
        async with pool.acquire() as conn:  # … and a hold comes before it is made
            hold = await oversee.place_hold(
                conn, actor="supervisor:x", reason="police", case_id=case_id
            )
        await drain(pool, PartnerStage(pool, settings))
        async with partner.pool.acquire() as conn:
            at_partner = await conn.fetchval("SELECT count(*) FROM cases")
        assert at_partner == 0 and (await case_row(pool, case_id))["state"] == "held"

        async with pool.acquire() as conn:
            await oversee.lift_hold(conn, hold["id"], actor="supervisor:x")
        await drain(pool, OutboxStage(pool, settings))
        await drain(pool, PartnerStage(pool, settings))
        async with partner.pool.acquire() as conn:
            at_partner = await conn.fetchval("SELECT count(*) FROM cases")
    assert at_partner == 1 and (await case_row(pool, case_id))["state"] == "forwarded"


async def test_our_withdrawal_of_a_forwarded_case_is_passed_to_the_partner(
    pool: asyncpg.Pool, db_url: str, template_db: str
) -> None:
    settings = make_settings(db_url)
    async with partner_instance(template_db) as partner:
        case_id = await _forwarded_case(pool, settings, partner.base, partner.token)
        async with pool.acquire() as conn:
            theirs = await conn.fetchval(
                "SELECT partner_case_id FROM forwards WHERE case_id = $1", case_id
            )
        done = await withdraw.withdraw_hash(
            pool, settings, f"sha256:{SHA}", reason="our hash list was wrong", actor="chief"
        )
        assert done["partners_told"] == 1
        await drain(pool, PartnerStage(pool, settings))
        assert (await case_row(partner.pool, theirs))["state"] == "withdrawn"
        assert await outcomes(partner.pool, theirs) == [("withdrawn", "scanner_withdrawn")]
        async with pool.acquire() as conn:
            told = await conn.fetchval(
                "SELECT withdrawn_at IS NOT NULL FROM forwards WHERE case_id = $1", case_id
            )
            events = [r["kind"] for r in await conn.fetch(
                "SELECT kind FROM case_events WHERE case_id = $1 ORDER BY id", case_id
            )]  # fmt: skip
        assert told and events[-1] == "partner_withdrawn"
        # The partner's feed now says withdrawn as well: mirrored, it changes nothing here.
        await make_due(pool, "partners")
        await drain(pool, PartnerStage(pool, settings))
    assert await outcomes(pool, case_id) == [("notified", None), ("withdrawn", "hash_withdrawn")]


async def test_a_withdrawal_waits_for_an_unreachable_partner(
    pool: asyncpg.Pool, db_url: str, template_db: str
) -> None:
    settings = make_settings(db_url)
    async with partner_instance(template_db) as partner:
        case_id = await _forwarded_case(pool, settings, partner.base, partner.token)
    # The partner's instance is down now.
    await withdraw.withdraw_hash(
        pool, settings, f"sha256:{SHA}", reason="our hash list was wrong", actor="chief"
    )
    await drain(pool, PartnerStage(pool, settings))
    async with pool.acquire() as conn:
        job = await conn.fetchrow(
            "SELECT attempts, last_error FROM jobs WHERE kind = 'partners' AND case_id = $1",
            case_id,
        )
        told = await conn.fetchval("SELECT withdrawn_at FROM forwards WHERE case_id = $1", case_id)
    assert job is not None and job["attempts"] == 1 and "not reachable" in job["last_error"]
    assert told is None  # tried again with backoff, not given up
