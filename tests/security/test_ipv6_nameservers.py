"""Item 10: an IPv6 nameserver in TAKEDOWN_DNS_NAMESERVERS works for the probe and the
resolver, written alone (`[::1]:5353`) or in a list; tested against a DNS server on ::1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service.probe.guard import DnsResolver
from service.resolve.dns import DnsClient
from service.settings import Settings
from service.sim.dns import DnsServer
from service.sim.world import World
from tests.conftest import make_settings


@pytest.fixture
async def dns_on_v6() -> AsyncIterator[DnsServer]:
    server = DnsServer(World.default(), host="::1")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("[::1]:5353", ["[::1]:5353"]),
        ('["[::1]:5353"]', ["[::1]:5353"]),
        ("[::1]:5353, 127.0.0.1:53", ["[::1]:5353", "127.0.0.1:53"]),
        ("::1", ["::1"]),
    ],
)
def test_an_ipv6_nameserver_is_accepted_alone_or_in_a_list(
    raw: str, expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAKEDOWN_DNS_NAMESERVERS", raw)
    assert Settings().dns_nameservers == expected


async def test_the_probe_resolves_through_an_ipv6_nameserver(dns_on_v6: DnsServer) -> None:
    assert dns_on_v6.address.startswith("[::1]:")
    resolver = DnsResolver([dns_on_v6.address], timeout=2.0)
    found = await resolver.addresses("media.sunny-gallery.net")
    assert sorted(found) == ["23.160.8.10", "23.160.8.11", "2602:fb12::10"]


async def test_the_resolver_resolves_through_an_ipv6_nameserver(dns_on_v6: DnsServer) -> None:
    settings = make_settings("postgresql://unused/db", dns_nameservers=[dns_on_v6.address])
    client = DnsClient(settings)
    answer = await client.addresses("media.sunny-gallery.net")
    assert "23.160.8.10" in answer.addresses
