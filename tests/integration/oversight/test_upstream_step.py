"""The ladder's upstream step writes to the upstream desk, looked up when the step comes.

End to end on loopback: the resolver routes URLs of a small hoster whose block a transit AS
announces (RDAP autnum names the transit's desk; no other source knows it) without asking
for the upstream; the notice goes to the hoster's own desk; after the deadline the ladder asks
the 'upstream' stage, waits for its answer, and the step writes to the transit's desk. A
second case of the network gets the desk from the network's cached record, without a query;
when the registry fails, the step is skipped and says why.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from service.db import cases, resolve_repo
from service.domain.states import CaseState
from service.resolve.resolver import open_resolver
from service.settings import Settings
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
from tests.integration.resolve.conftest import Peers
from tests.integration.resolve.test_upstream import transit_world

URL, SECOND_URL = "http://195.88.9.9/a.jpg", "http://195.88.10.20/b.jpg"  # Smallhost's block
OWN_DESK, PROVIDER_DESK = "abuse@smallhost.se", "abuse@transitco.se"
WITH_UPSTREAM = (*STAGES, "upstream")


def _settings(db_url: str, port: int, peers: Peers, **extra: Any) -> Settings:
    resolving = peers.settings(db_url)
    keep = ("dns_nameservers", "dns_timeout", "rdap_bootstrap_url", "rdap_timeout",
            "rdap_rate_limits", "rdap_default_rate")  # fmt: skip
    values = {name: getattr(resolving, name) for name in keep}
    return compressed(db_url, port, escalation_steps=["upstream"], **values, **extra)  # type: ignore[return-value]


async def _routed_case(pool: asyncpg.Pool, peers: Peers, db_url: str, url: str) -> int:
    """A case resolved as the resolve stage does it (route with its addresses)."""
    async with open_resolver(pool, peers.settings(db_url)) as resolver:
        route = (await resolver.resolve(url)).route
    async with pool.acquire() as conn:
        case_id = await add_case(conn, await scanner(conn), url)
        await resolve_repo.store_route(conn, case_id, route)
        await cases.transition(conn, case_id, CaseState.RESOLVED, actor="test")
    return case_id


async def _notices(pool: asyncpg.Pool, case_id: int) -> list[tuple[str, str, str]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT n.kind, n.recipient, n.state FROM notices n JOIN notice_items i"
            " ON i.notice_id = n.id WHERE i.case_id = $1 ORDER BY n.id",
            case_id,
        )
    return [(r["kind"], r["recipient"], r["state"]) for r in rows]


async def _escalated_to_provider(pool: asyncpg.Pool, case_id: int) -> bool:
    return ("escalation", PROVIDER_DESK, "sent") in await _notices(pool, case_id)


async def _route_roles(pool: asyncpg.Pool, case_id: int) -> list[str]:
    async with pool.acquire() as conn:
        route = await resolve_repo.upstream_subject(conn, case_id)
    assert route is not None
    return [r["role"] for r in route["recipients"]]


async def test_the_upstream_step_writes_to_the_desk_looked_up_when_it_comes(
    db_url: str, pool: asyncpg.Pool
) -> None:
    async with transit_world() as peers, smtp_sink() as (sink, server):
        settings = _settings(db_url, server.port, peers)
        first = await _routed_case(pool, peers, db_url, URL)
        second = await _routed_case(pool, peers, db_url, SECOND_URL)  # notified later
        for case_id in (first, second):  # resolution did not look the upstream up
            assert await _route_roles(pool, case_id) == ["abuse"]
        assert peers.rdap.counts["autnum"] == 0
        await send_to_outbox(pool, [first])
        async with running_stages(pool, settings, WITH_UPSTREAM):
            await eventually(lambda: _escalated_to_provider(pool, first), timeout=30)
            await send_to_outbox(pool, [second])
            await eventually(lambda: _escalated_to_provider(pool, second), timeout=30)
        notices = await _notices(pool, first)
        history = [e["kind"] for e in await events(pool, first)]
        found = await events(pool, first, "upstream_found")
        found_again = await events(pool, second, "upstream_found")
        steps = await events(pool, first, "escalation_step")
        roles = await _route_roles(pool, first)
    # The first notice went to the hoster's own desk, not to its upstream.
    assert notices[0][:2] == ("notice", OWN_DESK)
    # Requested when the step came, found, then the step: in that order on the case.
    requested = history.index("upstream_lookup_requested")
    assert requested < history.index("upstream_found") < history.index("escalation_step")
    assert found[0]["detail"]["address"] == PROVIDER_DESK
    assert found[0]["detail"]["source"] == "rdap-autnum" and found[0]["detail"]["from"] == "rdap"
    assert roles == ["abuse", "upstream"]
    assert steps[0]["detail"]["step"] == "upstream"
    assert steps[0]["detail"]["recipient"] == PROVIDER_DESK
    assert any(m.rcpt_tos == [PROVIDER_DESK] for m in sink.messages)
    # The second case of the network: the desk from the network's record, no second query.
    assert found_again[0]["detail"]["from"] == "cache"
    assert peers.rdap.counts["autnum"] == 1


async def test_a_failed_lookup_leaves_the_step_skipped_with_its_reason(
    db_url: str, pool: asyncpg.Pool
) -> None:
    async with transit_world() as peers, smtp_sink() as (_sink, server):
        settings = _settings(db_url, server.port, peers, resolve_partial_after_attempts=0)
        case_id = await _routed_case(pool, peers, db_url, URL)
        await send_to_outbox(pool, [case_id])
        peers.rdap.faults.add("503", prefix="/ripe/autnum/")  # the registry fails from now on
        async with running_stages(pool, settings, WITH_UPSTREAM):
            skipped = await eventually(
                lambda: events(pool, case_id, "escalation_skipped"), timeout=30
            )
        not_found = await events(pool, case_id, "upstream_not_found")
        sent_to = {n[1] for n in await _notices(pool, case_id)}
    assert not_found[0]["detail"]["failed"] is True
    assert skipped[0]["detail"]["step"] == "upstream"
    reason = skipped[0]["detail"]["reason"]
    assert reason.startswith("no contact known") and "registry did not answer" in reason
    assert PROVIDER_DESK not in sent_to and await _route_roles(pool, case_id) == ["abuse"]
