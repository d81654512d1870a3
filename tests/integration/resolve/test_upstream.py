"""The upstream provider's desk, found in RDAP when the escalation ladder asks, not before.

Resolution sends no parent or autnum query. `Resolver.upstream_of` (the 'upstream' stage's
lookup) finds it: a reseller's block links up to its provider's allocation (the parent's
abuse desk); a block without a distinct parent is announced by somebody's AS (the autnum's
desk); a hoster that is its own AS holder has no upstream beyond itself. The answer is kept on
the network's cached record: other cases of the network need no query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from service.domain.upstream import route_recipients_with
from service.resolve.resolver import Resolver, open_resolver
from service.sim.clock import SimClock
from service.sim.dns import DnsServer
from service.sim.rdap import RdapServer
from service.sim.world import World
from tests.integration.resolve.conftest import Peers, serving

TRANSIT_AS = 204_001


def _upstream(route: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in route["recipients"] if r["role"] == "upstream"]


def _upstream_queries(peers: Peers) -> int:
    return peers.rdap.counts["ip-prefix"] + peers.rdap.counts["autnum"]


async def test_resolution_sends_no_upstream_query(resolver: Resolver, peers: Peers) -> None:
    for url in ("http://img.shadowvps.ru/x.jpg", "http://img.pixelbarn.com/x.jpg"):
        result = await resolver.resolve(url)
        assert result.route["recipients"] and _upstream(result.route) == []
        assert result.detail["upstream"] is None
    assert _upstream_queries(peers) == 0
    assert sum(resolver.stats()["rdap_upstream_queries"].values()) == 0


async def test_a_resellers_upstream_is_its_parent_allocations_desk(
    resolver: Resolver, peers: Peers
) -> None:
    route = (await resolver.resolve("http://img.shadowvps.ru/x.jpg")).route
    answer = await resolver.upstream_of(route["ip_addresses"][0], route["asn"])
    assert answer.upstream is not None and answer.answered_from == "rdap"
    assert answer.upstream.address == "abuse@bergcloud.de"
    assert answer.upstream.source == "rdap-parent"
    assert answer.upstream.via == "94.130.160.0 - 94.130.175.255"
    assert peers.rdap.counts["ip-prefix"] == 1 and peers.rdap.counts["autnum"] == 0
    recipients = route_recipients_with(route["recipients"], answer.upstream)
    assert recipients[0]["address"] == "abuse@shadowvps.ru"  # the first notice: its own desk
    assert recipients[-1]["role"] == "upstream"
    # Abusix lists Bergcloud's desk for the block too; it becomes the upstream, not a fallback.
    assert [r["address"] for r in recipients].count("abuse@bergcloud.de") == 1


async def test_an_own_as_holder_has_no_upstream_beyond_itself(
    resolver: Resolver, peers: Peers
) -> None:
    route = (await resolver.resolve("http://img.pixelbarn.com/x.jpg")).route
    answer = await resolver.upstream_of(route["ip_addresses"][0], route["asn"])
    assert answer.upstream is None
    assert "no abuse desk beyond the network's own" in answer.reason
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
    async with serving(world, RdapServer(world, SimClock()), DnsServer(world)) as started:
        yield started


async def test_without_a_parent_the_origin_as_desk_is_the_upstream_and_is_kept(
    pool: asyncpg.Pool, db_url: str
) -> None:
    async with transit_world() as peers, open_resolver(pool, peers.settings(db_url)) as resolver:
        first = await resolver.resolve("http://195.88.9.9/a.jpg")
        assert _upstream(first.route) == [] and _upstream_queries(peers) == 0
        answer = await resolver.upstream_of("195.88.9.9", first.route["asn"])
        async with open_resolver(pool, peers.settings(db_url)) as other_worker:
            again = await other_worker.upstream_of("195.88.10.20", first.route["asn"])
            later = await other_worker.resolve("http://195.88.11.30/c.jpg")
    assert answer.upstream is not None and answer.upstream.address == "abuse@transitco.se"
    assert answer.upstream.source == "rdap-autnum" and answer.upstream.via == f"AS{TRANSIT_AS}"
    # The network's other addresses: from its cached record, in another worker too.
    assert again.answered_from == "cache" and again.upstream == answer.upstream
    # A case resolved once the record knows its upstream gets it without a query.
    assert later.detail["rdap_source"] == "cache"
    (upstream,) = _upstream(later.route)
    assert upstream["address"] == "abuse@transitco.se"
    assert later.route["recipients"][0]["address"] == "abuse@smallhost.se"
    assert peers.rdap.counts["autnum"] == 1 and peers.rdap.counts["ip"] == 1
