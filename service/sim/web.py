"""The hosters' web servers, all behind one HTTP forward proxy on loopback.

The service sets `TAKEDOWN_PROBE_PROXY` to `proxy_url`; its client then sends absolute-form
requests (`GET http://host/path`) here and we answer as the hoster of `host` would, from the
hoster's state machine (behaviour.py). Nothing is fetched from anywhere: every answer is
made up locally. CONNECT (https tunnelling) is not simulated and answers 501, so worlds use
http URLs; an https URL of a world is served when asked for as plain http (same key).
Unknown hosts get 502 from the proxy, as a real proxy answers when it cannot connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
from collections import Counter
from collections.abc import Awaitable, Callable

from aiohttp import web
from yarl import URL

from service.sim.behaviour import Phase, WorldState
from service.sim.images import (
    MEDIA_TYPES,
    content_bytes,
    decoy_bytes,
    media_type_of,
    reencoded_bytes,
)
from service.sim.world import UrlEntry

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REMOVED_PATH = "/content-removed"
_BOTS = ("bot", "crawl", "spider", "python", "aiohttp", "curl", "wget", "takedown", "scan")
_PAGE = (
    "<!doctype html><html><head><title>{title}</title></head>"
    "<body><h1>{title}</h1><p>{text}</p></body></html>"
)


def is_browser(user_agent: str) -> bool:
    """What a cloaking hoster calls a browser: Mozilla-style and not a known robot."""
    ua = user_agent.lower()
    return ua.startswith("mozilla/") and not any(word in ua for word in _BOTS)


class WebProxy:
    """HTTP forward proxy routing by Host to the world's hosters (and custom test hosts)."""

    def __init__(self, state: WorldState, host: str = "127.0.0.1", hang_seconds: float = 300.0):
        self.state, self.host, self.hang_seconds = state, host, hang_seconds
        self.port = 0
        self.hits: Counter[str] = Counter()  # by phase name and by "host:<name>"
        self._custom: dict[str, Handler] = {}
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def register_custom(self, host: str, handler: Handler) -> None:
        """Serve every request for `host` with `handler` (gzip bombs, redirect loops, …)."""
        self._custom[host.lower()] = handler

    def unregister_custom(self, host: str) -> None:
        self._custom.pop(host.lower(), None)

    async def start(self, port: int = 0) -> None:
        app = web.Application(middlewares=[_no_tunnels])
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("sim web proxy listening on %s", self.url)

    async def stop(self) -> None:
        self._closing.set()  # releases the handlers of hosters that "time out"
        if self._runner is not None:
            await self._runner.cleanup()

    # --- routing ----------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        pinned = _pinned_address(request)
        host = _named_host(request) if pinned else (request.url.host or "").lower()
        self.hits[f"host:{host}"] += 1
        custom = self._custom.get(host)
        if custom is not None:
            return await custom(request)
        if not self.state.world.resolve(host):
            self.hits["bad_gateway"] += 1
            return web.Response(status=502, text=f"proxy: cannot connect to {host}\n")
        if request.path == REMOVED_PATH:
            return _page(200, "Content removed", "This content was removed following a report.")
        url = f"http://{host}{request.path_qs}"
        at_hoster = self._hoster_at(host, pinned) if pinned else None
        if pinned and at_hoster is None:
            self.hits["bad_gateway"] += 1
            return web.Response(status=502, text=f"proxy: {host} is not served at {pinned}\n")
        phase = self.state.phase(url, at_hoster)
        entry = self.state.world.url_entry(url)
        if phase is None or entry is None:
            return _page(404, "404 Not Found", "The requested URL was not found on this server.")
        self.hits[phase.value] += 1
        return await self._serve(phase, entry, request)

    def _hoster_at(self, host: str, address: str) -> str | None:
        """The hoster answering for `host` at `address` (None: the name has no such address)."""
        world = self.state.world
        if ipaddress.ip_address(address) not in world.resolve(host):
            return None
        found = world.network_for(ipaddress.ip_address(address))
        return found[0].name if found else None

    async def _serve(
        self, phase: Phase, entry: UrlEntry, request: web.Request
    ) -> web.StreamResponse:
        if phase is Phase.IMAGE:
            return self._image(entry)
        if phase is Phase.REENCODED:
            data = reencoded_bytes(self.state.world.contents[entry.content])
            return web.Response(body=data, content_type=media_type_of(data))
        if phase is Phase.CLOAK:
            return self._cloak(entry, request)
        if phase is Phase.TIMEOUT:
            return await self._hang()
        if phase is Phase.RESET:
            return _reset(request)
        if phase is Phase.REDIRECT:
            raise web.HTTPFound(f"http://{entry.host}{REMOVED_PATH}")
        return _REMOVED_PAGES[phase]()

    def _image(self, entry: UrlEntry) -> web.Response:
        content = self.state.world.contents[entry.content]
        return web.Response(body=content_bytes(content), content_type=MEDIA_TYPES[content.format])

    def _cloak(self, entry: UrlEntry, request: web.Request) -> web.Response:
        if is_browser(request.headers.get("User-Agent", "")):
            return self._image(entry)
        hoster = self.state.world.hoster(entry.hoster)
        if hoster.behaviour.cloak_response == "decoy":
            content = self.state.world.contents[entry.content]
            return web.Response(body=decoy_bytes(content.seed), content_type="image/jpeg")
        return _page(403, "403 Forbidden", "Access denied.")

    async def _hang(self) -> web.Response:
        # Never answer in time: hold the request until the client gives up or we stop.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self.hang_seconds)
        return web.Response(status=504)


def _pinned_address(request: web.Request) -> str | None:
    """The address a request was sent to, when its target names one (absolute form
    `GET http://[2602:fb12::77]/f/1.jpg` with `Host: dl.example`): a re-check of one address
    of a host. The proxy connects to that address and passes Host on, as a forward proxy
    does; here that means answering as the hoster whose network holds the address."""
    target = request.raw_path
    if not target.startswith(("http://", "https://")):
        return None
    literal = (URL(target).host or "").strip("[]")
    try:
        ipaddress.ip_address(literal)
    except ValueError:
        return None
    return literal


def _named_host(request: web.Request) -> str:
    """The host name the Host header names (port dropped)."""
    named = request.headers.get("Host", "")
    return URL(f"http://{named}").host or "" if named else ""


@web.middleware
async def _no_tunnels(request: web.Request, handler: Handler) -> web.StreamResponse:
    # CONNECT carries an authority-form target that no route matches: answer it here.
    if request.method == "CONNECT":
        return web.Response(status=501, text="CONNECT is not simulated; use http URLs\n")
    return await handler(request)


def _page(status: int, title: str, text: str) -> web.Response:
    return web.Response(
        status=status, text=_PAGE.format(title=title, text=text), content_type="text/html"
    )


_REMOVED_PAGES: dict[Phase, Callable[[], web.Response]] = {
    Phase.NOT_FOUND: lambda: _page(404, "404 Not Found", "The requested URL was not found."),
    Phase.GONE: lambda: _page(410, "410 Gone", "This file has been deleted."),
    Phase.PLACEHOLDER: lambda: _page(
        200, "Image unavailable", "This image was removed for violating our terms."
    ),
    Phase.SOFT404: lambda: _page(
        200, "Page not found", "Sorry, the page you are looking for does not exist."
    ),
    Phase.LOGIN: lambda: _page(
        200,
        "Sign in",
        "Sign in to see this file.</p><form method=post action=/login><input name=user>"
        "<input type=password name=password><button>Sign in</button></form><p>",
    ),
}


def _reset(request: web.Request) -> web.Response:
    """Close the connection with a TCP RST (SO_LINGER 0), as a dropping middlebox does."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=500)
