"""The ladder's upstream step writes to the upstream desk the resolver found in RDAP.

End to end on loopback: the resolver routes a URL of a small hoster whose block a transit
AS announces (RDAP autnum names the transit's desk; no other source knows it), the notice
goes to the hoster's own desk, and after the deadline the upstream step writes to the
transit's desk. Before the RDAP upstream lookup this step found nobody and was skipped.
"""

from __future__ import annotations

import asyncpg

from service.resolve.resolver import open_resolver
from tests.integration.oversight.test_ladder import STAGES, compressed
from tests.integration.oversight.world import (
    add_case,
    events,
    eventually,
    running_stages,
    scanner,
    send_to_outbox,
    smtp_sink,
)
from tests.integration.resolve.test_upstream import transit_world

URL = "http://195.88.9.9/a.jpg"  # Smallhost's block, announced by TransitCo's AS
OWN_DESK, PROVIDER_DESK = "abuse@smallhost.se", "abuse@transitco.se"


async def _notices(pool: asyncpg.Pool) -> list[tuple[str, str, str]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT kind, recipient, state FROM notices ORDER BY id")
    return [(r["kind"], r["recipient"], r["state"]) for r in rows]


async def test_the_upstream_step_writes_to_the_desk_found_in_rdap(
    db_url: str, pool: asyncpg.Pool
) -> None:
    async with transit_world() as peers, open_resolver(pool, peers.settings(db_url)) as resolver:
        route = (await resolver.resolve(URL)).route
    async with smtp_sink() as (sink, server):
        settings = compressed(db_url, server.port, escalation_steps=["upstream"])
        async with pool.acquire() as conn:
            case_id = await add_case(conn, await scanner(conn), URL, route=route)
        await send_to_outbox(pool, [case_id])
        async with running_stages(pool, settings, STAGES):  # type: ignore[arg-type]
            await eventually(lambda: _sent(pool, ("escalation", PROVIDER_DESK, "sent")), timeout=30)
        notices = await _notices(pool)
        steps = await events(pool, case_id, "escalation_step")
    assert [r["role"] for r in route["recipients"]] == ["abuse", "upstream"]
    # The first notice went to the hoster's own desk, not to its upstream.
    assert notices[0][:2] == ("notice", OWN_DESK)
    assert next(n for n in notices if n[1] == PROVIDER_DESK)[0] == "escalation"
    assert steps[0]["detail"]["step"] == "upstream"
    assert steps[0]["detail"]["recipient"] == PROVIDER_DESK
    assert any(m.rcpt_tos == [PROVIDER_DESK] for m in sink.messages)


async def _sent(pool: asyncpg.Pool, wanted: tuple[str, str, str]) -> bool:
    return wanted in await _notices(pool)
