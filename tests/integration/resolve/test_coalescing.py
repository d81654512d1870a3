"""One RDAP network query per network, even when the routing table splits the network.

Team Cymru answers with the announced BGP prefix, which need not be the registry's network:
a provider commonly announces more-specific /24s out of one registered /22. Concurrent first
lookups of addresses in different announced prefixes must still meet, and after the first
answer the range cache must catch every later address of the network.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from service.resolve.resolver import open_resolver
from service.sim.clock import SimClock
from service.sim.dns import DnsServer
from service.sim.dnszone import CymruOrigin
from service.sim.rdap import RdapServer
from service.sim.rdap_corpus import CorpusIndex
from service.sim.world import World
from tests.integration.resolve.conftest import Peers, serving

REGISTERED = ipaddress.IPv4Network("45.80.0.0/22")  # one RIPE network, four announced /24s
ASN = 64_501  # any number: the sim answers what it is given


def _network_doc(net: ipaddress.IPv4Network, name: str, abuse: str) -> dict[str, Any]:
    card = [
        ["version", {}, "text", "4.0"],
        ["fn", {}, "text", f"{name} Abuse"],
        ["kind", {}, "text", "group"],
        ["email", {"type": "abuse"}, "text", abuse],
    ]
    first, last = net.network_address, net.broadcast_address
    return {
        "objectClassName": "ip network",
        "handle": f"{first} - {last}",
        "startAddress": str(first),
        "endAddress": str(last),
        "ipVersion": "v4",
        "name": name,
        "type": "ASSIGNED PA",
        "country": "NL",
        "cidr0_cidrs": [{"v4prefix": str(first), "length": net.prefixlen}],
        "entities": [
            {
                "objectClassName": "entity",
                "handle": f"{name}-RIPE",
                "roles": ["abuse"],
                "vcardArray": ["vcard", card],
            }
        ],
    }


@asynccontextmanager
async def split_world(
    registered: dict[ipaddress.IPv4Network, str], announced: list[ipaddress.IPv4Network]
) -> AsyncIterator[Peers]:
    """Loopback RDAP serving `registered` networks (→ abuse address), Cymru `announced`."""
    world, corpus = World.default(), CorpusIndex()
    for net, abuse in registered.items():
        doc = _network_doc(net, abuse.split("@")[1].split(".")[0].upper(), abuse)
        first, last = int(net.network_address), int(net.broadcast_address)
        corpus.networks.append((4, first, last, "ripe", doc))
    origins = [CymruOrigin(net, ASN, "NL", "ripe", "2019-04-01") for net in announced]
    rdap = RdapServer(world, SimClock(), corpus)
    async with serving(world, rdap, DnsServer(world, extra_origins=origins)) as started:
        yield started


async def test_concurrent_lookups_across_announced_prefixes_make_one_network_query(
    pool: asyncpg.Pool, db_url: str
) -> None:
    announced = list(REGISTERED.subnets(new_prefix=24))
    urls = [f"http://45.80.{third}.{host}/img.jpg" for third in range(4) for host in (7, 99, 200)]
    async with (
        split_world({REGISTERED: "abuse@splitnet.nl"}, announced) as peers,
        open_resolver(pool, peers.settings(db_url)) as resolver,
    ):
        results = await asyncio.gather(*(resolver.resolve(u) for u in urls))
        later = await resolver.resolve("http://45.80.2.42/later.jpg")
        queries = peers.rdap.counts["ip"]
    assert len({r.detail["cymru"]["prefix"] for r in results}) == 4  # the table splits it
    assert {r.route["recipients"][0]["address"] for r in results} == {"abuse@splitnet.nl"}
    assert queries == 1  # twelve addresses, four announced prefixes, one network
    assert later.detail["rdap_source"] == "cache"


async def test_one_announced_prefix_over_two_networks_gives_each_address_its_own(
    pool: asyncpg.Pool, db_url: str
) -> None:
    low, high = REGISTERED.subnets(new_prefix=23)
    registered = {low: "abuse@lownet.nl", high: "abuse@highnet.nl"}
    urls = [f"http://45.80.{third}.{host}/img.jpg" for third in range(4) for host in (7, 200)]
    async with (
        split_world(registered, [REGISTERED]) as peers,
        open_resolver(pool, peers.settings(db_url)) as resolver,
    ):
        results = await asyncio.gather(*(resolver.resolve(u) for u in urls))
        queries = peers.rdap.counts["ip"]
    chosen = [r.route["recipients"][0]["address"] for r in results]
    assert chosen == ["abuse@lownet.nl"] * 4 + ["abuse@highnet.nl"] * 4
    assert queries == 2  # one per registered network, though the routing table has one
