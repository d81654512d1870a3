"""The upstream provider's desk, found by RDAP during resolution, kept for escalation only.

A reseller's block links up to its provider's allocation (the parent's abuse desk); a block
without a distinct parent is announced by somebody's AS (the autnum's desk); a hoster that
is its own AS holder has no upstream beyond itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from service.resolve.resolver import Resolver, open_resolver
from service.sim.clock import SimClock
from service.sim.dns import DnsServer
from service.sim.rdap import RdapServer
from service.sim.world import World
from tests.integration.resolve.conftest import Peers

TRANSIT_AS = 204_001


def _upstream(route: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in route["recipients"] if r["role"] == "upstream"]


async def test_a_resellers_upstream_is_its_parent_allocations_desk(
    resolver: Resolver, peers: Peers
) -> None:
    result = await resolver.resolve("http://img.shadowvps.ru/x.jpg")
    recipients = result.route["recipients"]
    assert recipients[0]["address"] == "abuse@shadowvps.ru"  # the first notice: its own desk
    (upstream,) = _upstream(result.route)
    assert upstream["address"] == "abuse@bergcloud.de" and upstream["source"] == "rdap-parent"
    assert upstream == recipients[-1]
    # Abusix lists Bergcloud's desk for the block too; it is the upstream, not a fallback.
    assert [r["address"] for r in recipients].count("abuse@bergcloud.de") == 1
    assert result.detail["upstream"]["via"] == "94.130.160.0 - 94.130.175.255"
    assert peers.rdap.counts["ip-prefix"] == 1 and peers.rdap.counts["autnum"] == 0


async def test_an_own_as_holder_has_no_upstream_beyond_itself(
    resolver: Resolver, peers: Peers
) -> None:
    result = await resolver.resolve("http://img.pixelbarn.com/x.jpg")
    assert _upstream(result.route) == []
    assert result.detail["upstream"] is None
    assert peers.rdap.counts["autnum"] == 1  # asked, and the AS's desk is the network's own


@asynccontextmanager
async def transit_world() -> AsyncIterator[Peers]:
    """The small world plus a transit AS announcing a customer's own (parentless) block."""
    data = World.default().model_dump(mode="json")
    data["hosters"] += [
        {"name": "transitco", "org_name": "TransitCo AB", "country": "SE", "registry": "ripe",
         "asn": TRANSIT_AS, "networks": ["195.88.0.0/22"], "abuse": ["abuse@transitco.se"]},
        {"name": "smallhost", "org_name": "Smallhost HB", "country": "SE", "registry": "ripe",
         "asn": TRANSIT_AS, "networks": ["195.88.8.0/22"], "abuse": ["abuse@smallhost.se"]},
    ]  # fmt: skip
    world = World.model_validate(data)
    rdap = RdapServer(world, SimClock())
    dns = DnsServer(world)
    await rdap.start()
    await dns.start()
    try:
        yield Peers(world, dns, rdap)
    finally:
        await dns.stop()
        await rdap.stop()


async def test_without_a_parent_the_origin_as_desk_is_the_upstream(
    pool: asyncpg.Pool, db_url: str
) -> None:
    async with transit_world() as peers, open_resolver(pool, peers.settings(db_url)) as resolver:
        first = await resolver.resolve("http://195.88.9.9/a.jpg")
        second = await resolver.resolve("http://195.88.10.20/b.jpg")  # same network, cached
        autnum_queries = peers.rdap.counts["autnum"]
        async with open_resolver(pool, peers.settings(db_url)) as other_worker:
            again = await other_worker.resolve("http://195.88.11.30/c.jpg")
        assert peers.rdap.counts["autnum"] == autnum_queries  # kept on the cached network
    for result in (first, second, again):
        assert result.route["recipients"][0]["address"] == "abuse@smallhost.se"
        (upstream,) = _upstream(result.route)
        assert upstream["address"] == "abuse@transitco.se"
        assert upstream["source"] == "rdap-autnum"
    assert first.detail["upstream"]["via"] == f"AS{TRANSIT_AS}"
    assert autnum_queries == 1 and peers.rdap.counts["ip"] == 1
    assert again.detail["rdap_source"] == "cache"
