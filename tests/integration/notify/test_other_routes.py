"""A case whose host is served from several networks: each other route's desk gets its own
notice, and a desk of another route that fails hands over to that route's next contact (not
to the first route's desk again)."""

from __future__ import annotations

import asyncpg

from service.db import notify_repo
from service.notify.outbox import place_cases, reroute
from service.settings import Settings
from service.workers.escalate_stage import EscalateStage
from tests.integration.oversight.world import HOSTER_DESK, ROUTE, add_case, scanner

OTHER = [
    {"address": "abuse@other-net.example", "role": "abuse", "source": "rdap", "rank": 1,
     "confidence": "high"},
    {"address": "noc@other-net.example", "role": "abuse", "source": "abusix", "rank": 2,
     "confidence": "low"},
]  # fmt: skip


async def _told(conn: asyncpg.Connection, case_id: int) -> list[str]:
    rows = await conn.fetch(
        "SELECT n.recipient FROM notice_items i JOIN notices n ON n.id = i.notice_id"
        " WHERE i.case_id = $1 ORDER BY n.id",
        case_id,
    )
    return [r["recipient"] for r in rows]


async def _split_case(conn: asyncpg.Connection, url: str) -> int:
    """A case whose host is also served from another network, with that network's desks."""
    case_id = await add_case(conn, await scanner(conn), url, route=ROUTE)
    await conn.execute(
        "INSERT INTO case_address_routes (case_id, position, ip_addresses, hoster, recipients)"
        " VALUES ($1, 1, '{192.0.2.7}', 'Other Net', $2)",
        case_id,
        OTHER,
    )
    return case_id


async def test_each_route_is_told_and_a_failed_desk_hands_over_within_its_route(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        case_id = await _split_case(conn, "http://split.example/a.png")
        await place_cases(conn, settings, [case_id])
        assert await _told(conn, case_id) == [HOSTER_DESK, "abuse@other-net.example"]
        failed = await conn.fetchrow(
            "SELECT id, recipient, kind::text FROM notices WHERE recipient = $1",
            "abuse@other-net.example",
        )
        async with conn.transaction():
            await notify_repo.health_failed(
                conn, failed["recipient"], "550 no such user", bounce=True
            )
            await reroute(conn, settings, dict(failed), "550 no such user")
        assert await _told(conn, case_id) == [
            HOSTER_DESK,
            "abuse@other-net.example",
            "noc@other-net.example",
        ]


async def test_each_routes_desk_is_reminded_of_its_own_notice(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        case_id = await _split_case(conn, "http://split.example/late.png")
        await place_cases(conn, settings, [case_id])
        await conn.execute("UPDATE notices SET state = 'sent', sent_at = now(), sealed_at = now()")
        await EscalateStage(pool, settings).remind(conn, {"id": case_id, "country": None})
        reminded = await conn.fetch(
            "SELECT n.recipient FROM notice_items i JOIN notices n ON n.id = i.notice_id"
            " WHERE i.case_id = $1 AND n.kind = 'reminder' ORDER BY n.recipient",
            case_id,
        )
    assert [r["recipient"] for r in reminded] == sorted([HOSTER_DESK, "abuse@other-net.example"])
