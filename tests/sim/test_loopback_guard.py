"""Nothing in the sim ever connects to a non-loopback address.

Every socket connect/sendto in the process is recorded (and refused when not loopback)
while the whole sim is exercised: DNS over UDP and TCP, RDAP with redirects and self links,
every web behaviour through the proxy, SMTP with ack following.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import aiosmtplib
import dns.asyncresolver
import pytest
from aiohttp import web

from service.sim.runner import SimulatedInternet
from tests.sim.test_smtp import notice


def _host(address: Any) -> str | None:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return None  # unix sockets


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


@pytest.fixture
def destinations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []
    real = {name: getattr(socket.socket, name) for name in ("connect", "connect_ex", "sendto")}

    def guard(name: str) -> Any:
        def wrapper(self: socket.socket, *args: Any) -> Any:
            host = _host(args[0] if name != "sendto" else args[-1])
            if host is not None:
                seen.append(host)
                if not _is_loopback(host):
                    raise PermissionError(f"sim tried to reach {host}")
            return real[name](self, *args)

        return wrapper

    for name in real:
        monkeypatch.setattr(socket.socket, name, guard(name))
    yield seen


def test_the_guard_sees_and_refuses_a_public_address(destinations: list[str]) -> None:
    with pytest.raises(PermissionError):
        socket.create_connection(("192.0.2.1", 80), timeout=0.5)
    assert destinations == ["192.0.2.1"]


# The world's own objects (redirected by the bootstrap, with self links); the recorded
# corpus' too when ../shared is there (their links are rewritten to the simulator).
RDAP_PATHS = ("/ip/94.130.170.66", "/ip/23.160.8.10", "/domain/pixelbarn.com")
RECORDED_PATHS = ("/ip/74.125.225.229", "/domain/google.com")


async def _exercise(net: SimulatedInternet, ack_url: str) -> None:
    host, port = net.dns_address.rsplit(":", 1)
    r = dns.asyncresolver.Resolver(configure=False)
    r.nameservers, r.port, r.lifetime = [host], int(port), 2
    for u in net.world.urls:
        await r.resolve(u.host, "A", tcp=u.hoster == "pixelbarn", raise_on_no_answer=False)
    timeout = aiohttp.ClientTimeout(total=0.5)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        for path in RDAP_PATHS + (RECORDED_PATHS if _corpus() else ()):
            async with s.get(net.rdap_url + path) as resp:
                doc = await resp.json(content_type=None)
            for e in doc.get("entities", []):
                for link in e.get("links", []):
                    if link.get("rel") == "self":
                        async with s.get(link["href"]) as entity:
                            await entity.read()
        for u in net.world.urls:
            net.state.notify(u.url)
        for step in (0, 86400, 86400 * 7):
            net.clock.advance(step)
            for u in net.world.urls:
                try:
                    async with s.get(u.url, proxy=net.proxy_url) as resp:
                        await resp.read()
                except (aiohttp.ClientError, TimeoutError):
                    pass  # timeout and reset hosters
    text = "\n".join(f"hxxp://{u.url[7:]}" for u in net.world.urls) + f"\n{ack_url}\n"
    for box in sorted(net.world.mailboxes()):
        await aiosmtplib.send(notice(box, text), hostname=net.smtp_host, port=net.smtp_port)
    await net.bot.idle()


async def test_a_full_exercise_stays_on_loopback(destinations: list[str], world) -> None:
    posted = asyncio.Event()

    async def ack(request: web.Request) -> web.Response:
        if request.method == "POST":
            posted.set()
        return web.Response(
            text='<input type="hidden" name="csrf_token" value="t">', content_type="text/html"
        )

    app = web.Application()
    app.router.add_route("*", "/ack/{t}", ack)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ack_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/ack/tok"
    try:
        async with SimulatedInternet(world, corpus_dir=_corpus(), time_scale=0) as net:
            await _exercise(net, ack_url)
            assert posted.is_set()
            assert net.dns.queries["UDP"] and net.dns.queries["TCP"]
            assert net.rdap.counts["redirect"] >= 3 and net.web.hits["image"]
            assert len(net.mail.messages) == len(world.mailboxes())
    finally:
        await runner.cleanup()
    assert len(destinations) > 50
    assert all(_is_loopback(d) for d in destinations), set(destinations)


def _corpus() -> Any:
    from tests.sim.conftest import CORPUS

    return CORPUS if CORPUS.is_dir() else None
