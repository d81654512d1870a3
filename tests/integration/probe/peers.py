"""Loopback peers for probe tests: a web server with every hoster behaviour, a forwarding
HTTP proxy that routes by Host, and a DNS server whose answers a test can change.

Images are generated (random pixels and shapes); nothing here is a real picture.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from aiohttp import ClientSession, web
from dnslib import AAAA, QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from PIL import Image, ImageDraw, ImageFilter

SENTINEL = b"ZZ-SENTINEL-7f3a9c2e-never-store-me-ZZ"


def draw(seed: int, size: tuple[int, int] = (192, 160)) -> Image.Image:
    rng = random.Random(seed)
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    pen = ImageDraw.Draw(img)
    for _ in range(10):
        x0, y0 = rng.randrange(size[0] - 20), rng.randrange(size[1] - 20)
        box = (x0, y0, x0 + rng.randrange(10, 90), y0 + rng.randrange(10, 90))
        fill = tuple(rng.randrange(256) for _ in range(3))
        (pen.ellipse if rng.random() < 0.5 else pen.rectangle)(box, fill=fill)
    noise = np.random.default_rng(seed).integers(-10, 11, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(img, np.int16) + noise, 0, 255).astype(np.uint8))


def encode(img: Image.Image, fmt: str = "PNG", **kw: int) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **kw)
    return out.getvalue()


@cache
def original() -> bytes:
    return encode(draw(1))


@cache
def reencoded() -> bytes:
    img = draw(1).resize((150, 125)).filter(ImageFilter.GaussianBlur(0.6))
    return encode(img, "JPEG", quality=70)


@cache
def other_image() -> bytes:
    return encode(draw(99))


@cache
def bomb() -> bytes:
    """200 MB of zeros gzip-compressed to about 200 kB (ratio ~1000)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        block = bytes(1 << 20)
        for _ in range(200):
            gz.write(block)
    return out.getvalue()


def expected_hashes() -> dict[str, str]:
    from service.probe.digest import pdq_of

    pdq = pdq_of(original(), 10**8)
    assert pdq is not None
    return {"sha256": hashlib.sha256(original()).hexdigest(), "pdq": pdq[0]}


PAGE = b"<html><body><h1>%s</h1></body></html>"


@dataclass
class Origin:
    """The hoster web server: one path per behaviour; `state` lets a test flip a URL."""

    state: dict[str, str] = field(default_factory=dict)
    scripts: dict[str, list[str]] = field(default_factory=dict)  # one behaviour per hit
    hits: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    path_in_flight: dict[str, int] = field(default_factory=dict)
    path_max_in_flight: dict[str, int] = field(default_factory=dict)
    delay: float = 0.0
    gate: asyncio.Event | None = None  # when set by a test, requests wait until it opens
    bodies: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # name → (body, type)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("GET", "/{name:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.hits[name] = self.hits.get(name, 0) + 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.path_in_flight[name] = self.path_in_flight.get(name, 0) + 1
        self.path_max_in_flight[name] = max(
            self.path_max_in_flight.get(name, 0), self.path_in_flight[name]
        )
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.delay:
                await asyncio.sleep(self.delay)  # a slow server, so overlaps would show
            custom = self._custom(name)
            if custom is not None:
                return custom
            return await BEHAVIOURS[self._behaviour(name)](self, request)
        finally:
            self.in_flight -= 1
            self.path_in_flight[name] -= 1

    def _custom(self, name: str) -> web.Response | None:
        if name in self.bodies:
            body, ctype = self.bodies[name]
            return _bytes(body, ctype)
        return None

    def _behaviour(self, name: str) -> str:
        script = self.scripts.get(name)
        if script:
            return script.pop(0) if len(script) > 1 else script[0]
        return self.state.get(name, name.split("/")[0])


def _bytes(data: bytes, ctype: str = "image/png", status: int = 200) -> web.Response:
    return web.Response(body=data, content_type=ctype, status=status)


async def _drip(_o: Origin, request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "image/png"})
    await resp.prepare(request)
    while True:
        await resp.write(b"x")
        await asyncio.sleep(0.05)


async def _slow_first_byte(_o: Origin, request: web.Request) -> web.StreamResponse:
    """The re-encoded copy, its first byte sent alone before the rest (a slow hoster)."""
    body = reencoded()
    resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
    await resp.prepare(request)
    await resp.write(body[:1])
    await asyncio.sleep(0.1)  # the behaviour itself: the client reads that byte on its own
    await resp.write(body[1:])
    await resp.write_eof()
    return resp


async def _huge(_o: Origin, request: web.Request) -> web.StreamResponse:
    """10 GB announced and generated on the fly; never materialised."""
    resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    resp.content_length = 10 * 1024**3
    await resp.prepare(request)
    block = bytes(256 * 1024)
    for _ in range(10 * 1024**3 // len(block)):
        await resp.write(block)
    return resp


async def _reset(_o: Origin, request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.abort()
    raise asyncio.CancelledError


async def _hang(_o: Origin, _request: web.Request) -> web.StreamResponse:
    await asyncio.Event().wait()
    raise AssertionError


async def _cloak(_o: Origin, request: web.Request) -> web.StreamResponse:
    if "TakedownTracker" in request.headers.get("User-Agent", ""):
        return _bytes(PAGE % b"Forbidden", "text/html", 403)
    return _bytes(original())


async def _bomb(_o: Origin, _request: web.Request) -> web.StreamResponse:
    return web.Response(
        body=bomb(), headers={"Content-Encoding": "gzip", "Content-Type": "text/html"}
    )


async def _gzipped_image(_o: Origin, _request: web.Request) -> web.StreamResponse:
    body = gzip.compress(original())
    return web.Response(
        body=body, headers={"Content-Encoding": "gzip", "Content-Type": "image/png"}
    )


async def _corrupt_deflate(_o: Origin, _request: web.Request) -> web.StreamResponse:
    """Announced as deflate, but neither a zlib stream nor raw deflate."""
    return web.Response(
        body=b"\xff" * 64, headers={"Content-Encoding": "deflate", "Content-Type": "image/png"}
    )


def _redirect(target: Callable[[web.Request], str]) -> Callable[..., object]:
    async def handler(_o: Origin, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(target(request))

    return handler


def _static(
    data: Callable[[], bytes], ctype: str = "image/png", status: int = 200
) -> Callable[..., object]:
    async def handler(_o: Origin, _request: web.Request) -> web.StreamResponse:
        return _bytes(data(), ctype, status)

    return handler


LOGIN_FORM = (
    b"<p>Sign in to see this file</p><form method=post action=/session>"
    b'<input name=user><INPUT class="f" type = "password" name=pw></form>'
)
BEHAVIOURS: dict[str, Callable[..., object]] = {
    "image": _static(original),
    "gzimage": _gzipped_image,
    "bad-deflate": _corrupt_deflate,
    "reencoded": _static(reencoded, "image/jpeg"),
    "other": _static(other_image),
    "404": _static(lambda: PAGE % b"Not Found", "text/html", 404),
    "410": _static(lambda: PAGE % b"Gone", "text/html", 410),
    "451": _static(lambda: PAGE % b"Unavailable", "text/html", 451),
    "403": _static(lambda: PAGE % b"Forbidden", "text/html", 403),
    "429": _static(lambda: PAGE % b"Slow down", "text/html", 429),
    "500": _static(lambda: PAGE % b"Oops", "text/html", 500),
    "503": _static(lambda: PAGE % b"Busy", "text/html", 503),
    "placeholder": _static(lambda: PAGE % b"This content was removed", "text/html"),
    "soft404": _static(lambda: PAGE % b"Sorry, page not found", "text/html"),
    "removed-page": _static(lambda: PAGE % b"Removed for violating our terms", "text/html"),
    "redirect": _redirect(lambda r: "/removed-page"),
    "login": _static(lambda: PAGE % LOGIN_FORM, "text/html"),
    "to-login": _redirect(lambda r: "/login"),
    "401": _static(lambda: PAGE % b"Authorization required", "text/html", 401),
    "loop": _redirect(lambda r: f"/loop/{random.randrange(10**9)}"),
    "to-loopback": _redirect(lambda r: f"http://127.0.0.1:{r.url.port or 80}/image"),
    "to-ftp": _redirect(lambda r: "ftp://example.org/x"),
    "sentinel": _static(lambda: PAGE % SENTINEL, "text/html"),
    "drip": _drip,
    "slow-first-byte": _slow_first_byte,
    "huge": _huge,
    "reset": _reset,
    "hang": _hang,
    "cloak": _cloak,
    "bomb": _bomb,
    "bigheader": lambda _o, _r: _big_header(),
}


async def _big_header() -> web.StreamResponse:
    return web.Response(text="x", headers={"X-Padding": "p" * 60_000})


class Zone(BaseResolver):  # type: ignore[misc]
    """DNS answers a test can change: name → list of addresses (IPv4 answer A queries, IPv6
    AAAA queries); unknown → NXDOMAIN."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {}

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if name not in self.names:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype == QTYPE.A:
            for ip in self.names[name]:
                if ":" not in ip:
                    reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ip), ttl=0))
        elif request.q.qtype == QTYPE.AAAA:
            for ip in self.names[name]:
                if ":" in ip:
                    reply.add_answer(RR(request.q.qname, QTYPE.AAAA, rdata=AAAA(ip), ttl=0))
        return reply


def start_dns(zone: Zone) -> tuple[DNSServer, int]:
    server = DNSServer(
        zone,
        address="127.0.0.1",
        port=0,
        logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"),
    )
    server.start_thread()
    return server, server.server.server_address[1]


def proxy_app(origin_port: int) -> web.Application:
    """An HTTP forward proxy that sends every request to the loopback origin, keeping Host."""

    async def forward(request: web.Request) -> web.StreamResponse:
        async with (
            ClientSession(auto_decompress=False) as session,
            session.get(
                f"http://127.0.0.1:{origin_port}{request.rel_url.path_qs}",
                headers={
                    "Host": request.url.host or "",
                    "User-Agent": request.headers.get("User-Agent", ""),
                },
                allow_redirects=False,
            ) as resp,
        ):
            headers = {
                k: v
                for k, v in resp.headers.items()
                if k in ("Location", "Content-Type", "Content-Encoding")
            }
            return web.Response(body=await resp.read(), status=resp.status, headers=headers)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", forward)
    return app


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port
    finally:
        await runner.cleanup()
