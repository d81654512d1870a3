from __future__ import annotations

import ipaddress

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.rdatatype
import dns.resolver
import pytest

from service.sim.dns import DnsServer
from service.sim.dnszone import reverse_name
from service.sim.runner import SimulatedInternet
from service.sim.world import World


def _texts(answer: dns.resolver.Answer) -> list[str]:
    return [b"".join(r.strings).decode() for r in answer]


@pytest.mark.parametrize("tcp", [False, True])
async def test_a_and_aaaa_through_a_cname_chain(
    resolver: dns.asyncresolver.Resolver, tcp: bool
) -> None:
    a = await resolver.resolve("media.sunny-gallery.net", "A", tcp=tcp)
    assert sorted(r.address for r in a) == ["23.160.8.10", "23.160.8.11"]
    assert a.canonical_name.to_text() == "edge.pixelbarn.com."
    aaaa = await resolver.resolve("media.sunny-gallery.net", "AAAA", tcp=tcp)
    assert [r.address for r in aaaa] == ["2602:fb12::10"]


async def test_cname_query_returns_only_the_alias(resolver: dns.asyncresolver.Resolver) -> None:
    answer = await resolver.resolve("cdn.kittenpics.org", "CNAME")
    assert [r.target.to_text() for r in answer] == ["kittenpics.maplecdn.net."]


async def test_nxdomain_versus_nodata(resolver: dns.asyncresolver.Resolver) -> None:
    with pytest.raises(dns.resolver.NXDOMAIN):
        await resolver.resolve("nothing-here.kittenpics.org", "A")
    with pytest.raises(dns.resolver.NoAnswer):  # exists with TXT only
        await resolver.resolve("www.kittenpics.org", "A")
    with pytest.raises(dns.resolver.NoAnswer):  # empty apex of a domain
        await resolver.resolve("pixelbarn.com", "A")
    with pytest.raises(dns.resolver.NoAnswer):  # IPv6-only name
        await resolver.resolve("up.sakurabox.jp", "A")
    txt = await resolver.resolve("www.kittenpics.org", "TXT")
    assert _texts(txt) == ["v=spf1 -all"]


async def test_nodata_carries_a_soa_for_negative_caching(net: SimulatedInternet) -> None:
    host, port = net.dns_address.rsplit(":", 1)
    query = dns.message.make_query("pixelbarn.com", "A")
    reply = await dns.asyncquery.udp(query, host, port=int(port), timeout=2)
    assert reply.rcode() == 0 and not reply.answer
    assert reply.authority[0].rdtype == dns.rdatatype.SOA
    assert reply.flags & dns.flags.AA


async def test_abusix_ipv4_and_ipv6(resolver: dns.asyncresolver.Resolver) -> None:
    zone = "abuse-contacts.abusix.zone"
    v4 = await resolver.resolve(
        f"{reverse_name(ipaddress.ip_address('23.160.8.10'))}.{zone}", "TXT"
    )
    assert _texts(v4) == ["abuse@pixelbarn.com"]
    v6_ip = ipaddress.ip_address("2602:fb12::10")
    v6 = await resolver.resolve(f"{reverse_name(v6_ip)}.{zone}", "TXT")
    assert _texts(v6) == ["abuse@pixelbarn.com"]
    # A reseller is missed: Abusix lists the allocation holder's desk.
    reseller = await resolver.resolve(f"66.170.130.94.{zone}", "TXT")
    assert _texts(reseller) == ["abuse@bergcloud.de"]
    with pytest.raises(dns.resolver.NXDOMAIN):  # a hoster without Abusix entry
        await resolver.resolve(f"8.125.21.103.{zone}", "TXT")


async def test_team_cymru_origin_origin6_and_asn(resolver: dns.asyncresolver.Resolver) -> None:
    origin = await resolver.resolve("66.170.130.94.origin.asn.cymru.com", "TXT")
    asn, prefix, cc, registry, _date = (p.strip() for p in _texts(origin)[0].split("|"))
    assert (asn, prefix, cc, registry) == ("212441", "94.130.170.0/24", "RU", "ripencc")
    rev6 = reverse_name(ipaddress.ip_address("2403:9800:10::33"))
    origin6 = await resolver.resolve(f"{rev6}.origin6.asn.cymru.com", "TXT")
    assert _texts(origin6)[0].startswith("138915 | 2403:9800::/32 | JP | apnic |")
    as_name = await resolver.resolve("AS138915.asn.cymru.com", "TXT")
    fields = [p.strip() for p in _texts(as_name)[0].split("|")]
    assert fields[:3] == ["138915", "JP", "apnic"] and "Sakurabox" in fields[4]


async def test_cymru_rows_for_the_recorded_corpus(
    net: SimulatedInternet, resolver: dns.asyncresolver.Resolver
) -> None:
    if not net.dns.data.extra_origins:
        pytest.skip("rdap corpus absent")
    answer = await resolver.resolve("229.225.125.74.origin.asn.cymru.com", "TXT")
    assert _texts(answer)[0].startswith("15169 | 74.125.225.0/24 | US | arin")


async def test_big_answers_are_truncated_over_udp_and_complete_over_tcp(world: World) -> None:
    data = world.model_dump(mode="json")
    many = {"aaaa": [f"2602:fb12::{i:x}" for i in range(1, 40)]}
    data["domains"][0]["hosts"]["many.pixelbarn.com"] = many  # does not fit in 512 bytes
    server = DnsServer(World.model_validate(data))
    await server.start()
    try:
        big = dns.message.make_query("many.pixelbarn.com", "AAAA")
        truncated = await dns.asyncquery.udp(big, "127.0.0.1", port=server.port, timeout=2)
        assert truncated.flags & dns.flags.TC and not truncated.answer
        full = await dns.asyncquery.tcp(big, "127.0.0.1", port=server.port, timeout=2)
        assert len(full.answer[0]) == 39
        small = dns.message.make_query("edge.pixelbarn.com", "A")
        fits = await dns.asyncquery.udp(small, "127.0.0.1", port=server.port, timeout=2)
        assert not fits.flags & dns.flags.TC and len(fits.answer[0]) == 2
    finally:
        await server.stop()


async def test_fault_servfail_for_a_count(
    net: SimulatedInternet, resolver: dns.asyncresolver.Resolver
) -> None:
    net.dns.faults.set("pixelbarn.com", "servfail", count=1)
    with pytest.raises(dns.resolver.NoNameservers):  # SERVFAIL from the only server
        await resolver.resolve("edge.pixelbarn.com", "A")
    answer = await resolver.resolve("edge.pixelbarn.com", "A")  # the fault is used up
    assert len(answer) == 2


@pytest.mark.parametrize("tcp", [False, True])
async def test_fault_timeout_drops_queries_until_cleared(
    net: SimulatedInternet, resolver: dns.asyncresolver.Resolver, tcp: bool
) -> None:
    net.dns.faults.set("*", "timeout")
    resolver.lifetime = resolver.timeout = 0.3
    with pytest.raises(dns.exception.Timeout):
        await resolver.resolve("edge.pixelbarn.com", "A", tcp=tcp)
    net.dns.faults.clear()
    resolver.lifetime = resolver.timeout = 2
    assert len(await resolver.resolve("edge.pixelbarn.com", "A", tcp=tcp)) == 2
    assert net.dns.queries["TCP" if tcp else "UDP"] >= 2
