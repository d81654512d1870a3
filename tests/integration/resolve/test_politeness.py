"""Caching per network, coalescing, registry pacing, and faults that must end in a retry."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from service.errors import TransientLookupError
from service.resolve.politeness import PacingDeferral
from service.resolve.resolver import Resolver, open_resolver
from tests.integration.resolve.conftest import Peers


async def test_one_rdap_query_per_network_shared_by_every_worker(
    pool: asyncpg.Pool, peers: Peers, db_url: str, resolver: Resolver
) -> None:
    urls = [f"http://23.160.8.{i}/a.jpg" for i in range(1, 30)] + ["http://img.pixelbarn.com/x"]
    results = await asyncio.gather(*(resolver.resolve(u) for u in urls))
    assert {r.route["recipients"][0]["address"] for r in results} == {"abuse@pixelbarn.com"}
    assert peers.rdap.counts["ip"] == 1  # 30 addresses, one network, concurrent: coalesced
    async with open_resolver(pool, peers.settings(db_url)) as other_worker:
        again = await other_worker.resolve("http://23.160.10.200/b.jpg")
    assert again.detail["rdap_source"] == "cache"
    assert peers.rdap.counts["ip"] == 1  # the Postgres cache is shared


async def test_negative_answers_are_cached(resolver: Resolver, peers: Peers) -> None:
    # 9.9.9.9 is in no network of the world or the corpus: the registry says 404.
    for _ in range(3):
        result = await resolver.resolve("http://9.9.9.9/x.jpg")
        assert result.route["no_contact_reason"] == "no registry record for the hosting address"
    assert peers.rdap.counts["redirect"] == 0
    assert resolver.rdap.queries["redirector"] == 1


async def test_a_429_storm_ends_in_retry_and_closes_the_registry(
    resolver: Resolver, peers: Peers
) -> None:
    peers.rdap.faults.add("429", registry="ripe", retry_after=120)
    with pytest.raises(TransientLookupError) as first:
        await resolver.resolve("http://files.tulpnet.nl/f.jpg")
    assert first.value.retry_after == 120
    ripe = resolver.rdap.queries["ripe"]
    with pytest.raises(TransientLookupError) as second:
        await resolver.resolve("http://i.baltichost.lv/x.jpg")  # another RIPE network
    assert second.value.retry_after is not None and second.value.retry_after > 100
    assert resolver.rdap.queries["ripe"] == ripe  # RIPE is closed: not asked again
    # The domain's registry is not held up by RIPE's block: the registrar was asked meanwhile.
    assert resolver.rdap.queries["lv-nic"] == 1
    # ARIN is not affected by RIPE's block.
    ok = await resolver.resolve("http://img.pixelbarn.com/x.jpg")
    assert ok.decision.resolved


@pytest.mark.parametrize("status", ["500", "503"])
async def test_registry_server_errors_are_transient(
    resolver: Resolver, peers: Peers, status: str
) -> None:
    peers.rdap.faults.add(status, registry="apnic")  # type: ignore[arg-type]
    with pytest.raises(TransientLookupError):
        await resolver.resolve("http://up.sakurabox.jp/a.jpg")


async def test_lacnic_pacing_defers_instead_of_hammering(
    pool: asyncpg.Pool, peers: Peers, db_url: str
) -> None:
    settings = peers.settings(db_url, rdap_rate_limits={"lacnic": 10.0}, rdap_max_wait=0.5)
    async with open_resolver(pool, settings) as resolver:
        first = await resolver.resolve("http://img.andesnet.cl/a.jpg")
        assert first.decision.resolved
        asked = dict(resolver.rdap.queries)
        with pytest.raises(PacingDeferral) as paced:
            await resolver.resolve("http://www.riohost.com.br/a.jpg")  # another LACNIC network
        # The domain's registrar was asked meanwhile: its registry does not wait for LACNIC.
        more = {k: n - asked.get(k, 0) for k, n in resolver.rdap.queries.items()}
        assert {k for k, n in more.items() if n} - {"redirector"} == {"br-nic"}, more
    # 6 s apart at 10/min, and a margin wider: never at exactly the registry's limit.
    assert paced.value.retry_after is not None and 6 < paced.value.retry_after <= 6.3
    assert peers.rdap.counts["lacnic:ip"] == 1


@pytest.mark.parametrize("kind", ["timeout", "servfail"])
async def test_dns_failures_are_transient_never_nxdomain(
    resolver: Resolver, peers: Peers, kind: str
) -> None:
    peers.dns.faults.set("files.tulpnet.nl", kind)  # type: ignore[arg-type]
    with pytest.raises(TransientLookupError):
        await resolver.resolve("http://files.tulpnet.nl/f.jpg")


async def test_second_source_failure_blocks_a_no_contact_conclusion(
    resolver: Resolver, peers: Peers
) -> None:
    peers.dns.faults.set("abuse-contacts.abusix.zone", "servfail")
    with pytest.raises(TransientLookupError, match="abusix"):
        await resolver.resolve("http://196.11.240.215/x.jpg")
    ok = await resolver.resolve("http://img.pixelbarn.com/x.jpg")  # a sure answer still stands
    assert ok.decision.resolved and any("abusix" in f for f in ok.detail["failed_sources"])


async def test_a_registrar_outage_defers_the_decision_until_partial_answers_are_accepted(
    resolver: Resolver, peers: Peers
) -> None:
    url = "http://img.pixelbarn.com/x.jpg"
    peers.rdap.faults.add("503", prefix="/domain/")
    with pytest.raises(TransientLookupError, match="a second source is down"):
        await resolver.resolve(url, accept_partial=False)
    partial = await resolver.resolve(url, accept_partial=True)
    peers.rdap.faults.clear()
    full = await resolver.resolve(url, accept_partial=False)
    assert partial.decision.resolved and partial.route["registrar"] is None
    assert any("registrar" in source for source in partial.detail["failed_sources"])
    assert full.route["registrar"] is not None
    assert full.route["recipients"][0] == partial.route["recipients"][0]


async def test_a_cached_parent_allocation_does_not_answer_for_a_resellers_own_block(
    resolver: Resolver, peers: Peers
) -> None:
    """Bergcloud's /20 cached first must not route ShadowVPS's /24 (its own AS) to Bergcloud."""
    parent = await resolver.resolve("http://s3.bergcloud.de/bucket-77/obj1.jpg")
    reseller = await resolver.resolve("http://img.shadowvps.ru/x/1.jpg")
    again = await resolver.resolve("http://s3.bergcloud.de/bucket-77/obj1.jpg")
    assert parent.route["recipients"][0]["address"] == "abuse@bergcloud.de"
    assert reseller.route["recipients"][0]["address"] == "abuse@shadowvps.ru"
    assert reseller.route["asn"] != parent.route["asn"]
    assert again.route["recipients"][0]["address"] == "abuse@bergcloud.de"
