"""A re-check of each address of a host: IPv4 and IPv6 (over a real [::1] socket), each
through the SSRF guard; the content is gone only when no address serves it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.domain.verdicts import Verdict
from service.probe.runner import LocalProbe
from tests.conftest import make_settings
from tests.integration.probe.peers import Origin, Zone, expected_hashes, serve

NAME = "split.test"


@asynccontextmanager
async def two_origins() -> AsyncIterator[tuple[Origin, Origin, int]]:
    """One hoster on [::1] and another on 127.0.0.1, on the same port (as one name's A and
    AAAA records would be reached)."""
    v6, v4 = Origin(), Origin()
    async for port in serve(v6.app(), "::1"):
        async for _same in serve(v4.app(), "127.0.0.1", port):
            yield v6, v4, port


def probe(dns_port: int, allow_private: bool = True) -> LocalProbe:
    return LocalProbe(
        make_settings(
            "postgresql://unused/db",
            dns_nameservers=[f"127.0.0.1:{dns_port}"],
            allow_private_targets=allow_private,
            probe_timeout=3.0,
            probe_cloak_profiles=[],
        )
    )


async def test_each_address_is_checked_and_gone_needs_every_one(
    dns_zone: tuple[Zone, int],
) -> None:
    zone, dns_port = dns_zone
    zone.names[NAME] = ["127.0.0.1", "::1"]
    async with two_origins() as (v6, v4, port):
        url = f"http://{NAME}:{port}/f"
        v4.state["f"], v6.state["f"] = "404", "image"
        p = probe(dns_port)
        one_left = await p.check(url, expected_hashes(), addresses=["127.0.0.1", "::1"])
        v6.state["f"] = "410"
        none_left = await p.check(url, expected_hashes(), addresses=["127.0.0.1", "::1"])
        await p.close()
    assert one_left.verdict is Verdict.PRESENT
    assert "127.0.0.1 gone (http_gone)" in one_left.reason and "::1 present" in one_left.reason
    assert none_left.verdict is Verdict.GONE
    assert (v4.hits["f"], v6.hits["f"]) == (2, 2)  # each address was asked each time


async def test_an_address_the_guard_refuses_leaves_the_check_inconclusive(
    dns_zone: tuple[Zone, int],
) -> None:
    zone, dns_port = dns_zone
    zone.names[NAME] = ["127.0.0.1", "::1"]
    async with two_origins() as (v6, v4, port):
        v4.state["f"] = v6.state["f"] = "404"
        p = probe(dns_port, allow_private=False)
        report = await p.check(f"http://{NAME}:{port}/f", expected_hashes(), addresses=["::1"])
        await p.close()
    assert report.verdict is Verdict.INCONCLUSIVE and report.reason.startswith("refused_target")
    assert v6.hits == {}
