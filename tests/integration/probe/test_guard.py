"""SSRF guard: non-public targets are refused on the address actually used, across redirects
and when a DNS answer changes between checks; the loopback hoster never sees the request."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import dns.asyncresolver

from service.domain.verdicts import Verdict
from service.probe.guard import is_ip_literal
from service.probe.runner import LocalProbe
from tests.conftest import make_settings
from tests.integration.probe.conftest import Web
from tests.integration.probe.peers import Zone, expected_hashes

PUBLIC_IP = "93.184.216.34"  # never connected to: the proxy routes by Host to loopback


def guarded(dns_port: int, proxy_port: int | None = None) -> LocalProbe:
    settings = make_settings(
        "postgresql://unused/db",
        allow_private_targets=False,
        dns_nameservers=[f"127.0.0.1:{dns_port}"],
        probe_proxy=f"http://127.0.0.1:{proxy_port}" if proxy_port else None,
        probe_timeout=3.0,
        probe_cloak_profiles=[],
    )
    return LocalProbe(settings)


async def test_loopback_literal_is_refused_without_a_request(
    web_origin: Web, dns_zone: tuple[Zone, int]
) -> None:
    p = guarded(dns_zone[1])
    report = await p.check(web_origin.url("image"), expected_hashes())
    await p.close()
    assert report.verdict is Verdict.INCONCLUSIVE and report.reason.startswith("refused_target")
    assert web_origin.origin.hits == {}


async def test_name_resolving_to_loopback_is_refused(
    web_origin: Web, dns_zone: tuple[Zone, int]
) -> None:
    zone, port = dns_zone
    zone.names["evil.test"] = ["127.0.0.1"]
    p = guarded(port)
    report = await p.check(f"http://evil.test:{web_origin.port}/image", expected_hashes())
    await p.close()
    assert report.reason.startswith("refused_target") and web_origin.origin.hits == {}


async def test_redirect_to_loopback_is_refused_through_the_proxy(
    web_origin: Web, proxy_port: int, dns_zone: tuple[Zone, int]
) -> None:
    zone, port = dns_zone
    zone.names["hoster.test"] = [PUBLIC_IP]
    p = guarded(port, proxy_port)
    try:
        served = await p.check("http://hoster.test/image", expected_hashes())
        redirected = await p.check("http://hoster.test/to-loopback", expected_hashes())
    finally:
        await p.close()
    assert served.verdict is Verdict.PRESENT
    assert redirected.verdict is Verdict.INCONCLUSIVE
    assert redirected.reason.startswith("refused_target")
    assert [h["status"] for h in redirected.hops] == [302]
    assert web_origin.origin.hits["image"] == 1  # the loopback target was never fetched


async def test_dns_answer_changing_to_loopback_between_checks_is_refused(
    web_origin: Web, proxy_port: int, dns_zone: tuple[Zone, int]
) -> None:
    zone, port = dns_zone
    zone.names["rebind.test"] = [PUBLIC_IP]
    p = guarded(port, proxy_port)
    try:
        first = await p.check("http://rebind.test/image", expected_hashes())
        zone.names["rebind.test"] = ["127.0.0.1"]
        second = await p.check("http://rebind.test/image", expected_hashes())
    finally:
        await p.close()
    assert first.verdict is Verdict.PRESENT
    assert second.reason.startswith("refused_target")
    assert web_origin.origin.hits["image"] == 1


async def test_nxdomain_is_gone(proxy_port: int, dns_zone: tuple[Zone, int]) -> None:
    p = guarded(dns_zone[1], proxy_port)
    report = await p.check("http://vanished.test/image", expected_hashes())
    await p.close()
    assert (report.verdict, report.reason.split(":")[0]) == (Verdict.GONE, "nxdomain")


async def test_nxdomain_without_a_proxy_is_gone(dns_zone: tuple[Zone, int]) -> None:
    p = guarded(dns_zone[1])
    report = await p.check("http://vanished.test/image", expected_hashes())
    await p.close()
    assert report.verdict is Verdict.GONE


class ChangingAnswers(list[str]):
    """A name's A records that change after the first query: `first` once, then `after`
    (DNS rebinding between the probe's check and the proxy's own lookup)."""

    def __init__(self, first: str, after: str) -> None:
        super().__init__([first])
        self.after = after
        self.queries = 0

    def __iter__(self) -> Iterator[str]:
        self.queries += 1
        return iter(list.__iter__(self) if self.queries == 1 else [self.after])


@dataclass
class TunnelProxy:
    """An https forward proxy as deployments run it: CONNECT to a name makes it resolve the
    name itself (here through the test's DNS server). It records where it would connect,
    then answers 502 without connecting anywhere."""

    dns_port: int
    targets: list[str] = field(default_factory=list)
    connects_to: list[str] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, authority, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        assert method == "CONNECT"
        host, _, port = authority.rpartition(":")
        self.targets.append(authority)
        self.connects_to.append(f"{await self.resolve(host.strip('[]'))}:{port}")
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def resolve(self, host: str) -> str:
        if is_ip_literal(host):
            return host
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = ["127.0.0.1"], self.dns_port
        return str((await resolver.resolve(host, "A"))[0])


async def test_https_through_the_proxy_goes_to_the_checked_address_despite_rebinding(
    dns_zone: tuple[Zone, int],
) -> None:
    zone, dns_port = dns_zone
    answers = ChangingAnswers(PUBLIC_IP, "127.0.0.1")
    zone.names["rebind.test"] = answers
    proxy = TunnelProxy(dns_port)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    p = guarded(dns_port, server.sockets[0].getsockname()[1])
    try:
        report = await p.check("https://rebind.test/image", expected_hashes())
    finally:
        await p.close()
        server.close()
        await server.wait_closed()
    assert answers.queries >= 1  # the probe looked the name up and checked the answer
    # The proxy was asked for the address the probe checked, never for the name, so the
    # name's new answer (loopback) could not be where it connects.
    assert proxy.targets == [f"{PUBLIC_IP}:443"]
    assert proxy.connects_to == [f"{PUBLIC_IP}:443"]
    assert report.verdict is Verdict.INCONCLUSIVE  # our proxy answered 502: nothing fetched
