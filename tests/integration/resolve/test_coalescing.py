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
from typing import Any

import asyncpg
import pytest

from service.resolve.resolver import open_resolver
from service.sim.clock import SimClock
from service.sim.dns import DnsServer
from service.sim.dnszone import CymruOrigin
from service.sim.rdap import RdapServer
from service.sim.rdap_corpus import CorpusIndex
from service.sim.world import World
from tests.integration.resolve.conftest import Peers

REGISTERED = ipaddress.ip_network("45.80.0.0/22")  # one RIPE network, four announced /24s
ASN = 64_500 + 1  # any number: the sim answers what it is given


def _network_doc() -> dict[str, Any]:
    card = [
        ["version", {}, "text", "4.0"],
        ["fn", {}, "text", "Splitnet Abuse"],
        ["kind", {}, "text", "group"],
        ["email", {"type": "abuse"}, "text", "abuse@splitnet.nl"],
    ]
    return {
        "objectClassName": "ip network",
        "handle": "45.80.0.0 - 45.80.3.255",
        "startAddress": "45.80.0.0",
        "endAddress": "45.80.3.255",
        "ipVersion": "v4",
        "name": "SPLITNET-NL",
        "type": "ASSIGNED PA",
        "country": "NL",
        "cidr0_cidrs": [{"v4prefix": "45.80.0.0", "length": 22}],
        "entities": [
            {
                "objectClassName": "entity",
                "handle": "SPL1-RIPE",
                "roles": ["abuse"],
                "vcardArray": ["vcard", card],
            }
        ],
    }


@pytest.fixture
async def split_peers() -> AsyncIterator[Peers]:
    world = World.default()
    corpus = CorpusIndex()
    first, last = int(REGISTERED.network_address), int(REGISTERED.broadcast_address)
    corpus.networks.append((4, first, last, "ripe", _network_doc()))
    announced = [
        CymruOrigin(net, ASN, "NL", "ripe", "2019-04-01")
        for net in REGISTERED.subnets(new_prefix=24)
    ]
    rdap = RdapServer(world, SimClock(), corpus)
    dns = DnsServer(world, extra_origins=announced)
    await rdap.start()
    await dns.start()
    try:
        yield Peers(world, dns, rdap)
    finally:
        await dns.stop()
        await rdap.stop()


async def test_concurrent_lookups_across_announced_prefixes_make_one_network_query(
    pool: asyncpg.Pool, split_peers: Peers, db_url: str
) -> None:
    urls = [f"http://45.80.{third}.{host}/img.jpg" for third in range(4) for host in (7, 99, 200)]
    async with open_resolver(pool, split_peers.settings(db_url)) as resolver:
        results = await asyncio.gather(*(resolver.resolve(u) for u in urls))
        prefixes = {r.detail["cymru"]["prefix"] for r in results}
        later = await resolver.resolve("http://45.80.2.42/later.jpg")
    assert len(prefixes) == 4  # the routing table really splits the network
    assert {r.route["recipients"][0]["address"] for r in results} == {"abuse@splitnet.nl"}
    assert split_peers.rdap.counts["ip"] == 1  # twelve addresses, four prefixes, one network
    assert later.detail["rdap_source"] == "cache"
    assert split_peers.rdap.counts["ip"] == 1
