"""An RDAP server on loopback: a bootstrap base that redirects, and per-registry answers.

`GET {base}/ip/{ip}` (also `/domain/`, `/autnum/`, `/entity/`) answers 302 to
`{base}/{registry}/ip/{ip}` like rdap.org does; the registry path serves the generated
response of the world (longest-prefix match for addresses) or else a recorded one from
the corpus. Faults (429/5xx/slow) are injected per path prefix; registries rate-limit
per client in simulated time (LACNIC: about 10 queries a minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from service.sim.clock import SimClock
from service.sim.rdap_corpus import CorpusIndex, rewrite_links
from service.sim.rdap_docs import (
    autnum_doc,
    domain_doc,
    entity_handles,
    find_entity,
    network_doc,
)
from service.sim.rdap_faults import RdapFaults
from service.sim.world import Hoster, World

log = logging.getLogger(__name__)
RDAP_JSON = "application/rdap+json"
KINDS = ("ip", "domain", "autnum", "entity")
TLD_REGISTRY = {"com": "verisign", "net": "verisign", "org": "pir", "no": "norid"}


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` queries per client within `per` simulated seconds."""

    limit: int
    per: float = 60.0


DEFAULT_RATE_LIMITS = {"lacnic": RateLimit(10, 60.0)}
Found = tuple[str, dict[str, Any]]


class RdapServer:
    """Serves a world's (and the recorded corpus') RDAP objects; counts what it served."""

    def __init__(
        self,
        world: World,
        clock: SimClock,
        corpus: CorpusIndex | None = None,
        rate_limits: dict[str, RateLimit] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.world, self.clock, self.host = world, clock, host
        self.corpus = corpus or CorpusIndex()
        self.rate_limits = dict(DEFAULT_RATE_LIMITS if rate_limits is None else rate_limits)
        self.faults = RdapFaults()
        self.counts: Counter[str] = Counter()
        self.port = 0
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._entities = {hd.upper(): h for h in world.hosters for hd in entity_handles(h)}
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, port: int = 0) -> None:
        app = web.Application(middlewares=[self._fault_middleware])
        app.router.add_get(r"/{kind:(ip|domain|autnum|entity)}/{key:.+}", self._bootstrap)
        app.router.add_get(
            r"/{registry:[a-z0-9.-]+}/{kind:(ip|domain|autnum|entity)}/{key:.+}", self._registry
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("sim rdap listening on %s", self.url)

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- handlers -------------------------------------------------------------------------
    async def _bootstrap(self, request: web.Request) -> web.StreamResponse:
        kind, key = request.match_info["kind"], request.match_info["key"]
        found = self.locate(kind, key, _base(request))
        if found is None:
            return _error(404, f"{kind} {key} is not in this world")
        self.counts["redirect"] += 1
        raise web.HTTPFound(f"{_base(request)}/{found[0]}/{kind}/{key}")

    async def _registry(self, request: web.Request) -> web.StreamResponse:
        registry, kind, key = (request.match_info[k] for k in ("registry", "kind", "key"))
        limited = self._rate_limited(registry, request.remote or "?")
        if limited is not None:
            return limited
        found = self.locate(kind, key, _base(request))
        if found is None:
            return _error(404, f"{kind} {key} not found")
        # A network asked for by its prefix is a parent link being followed: counted apart
        # from address lookups, whose count is one per network when caching works.
        counted = "ip-prefix" if kind == "ip" and "/" in key else kind
        self.counts[counted] += 1
        self.counts[f"{registry}:{counted}"] += 1
        body = json.dumps(found[1], indent=1)
        return web.Response(text=body, content_type=RDAP_JSON)

    # --- lookups ----------------------------------------------------------------------------
    def locate(self, kind: str, key: str, base: str) -> Found | None:
        """(registry, response document) for a query, or None when nobody has it."""
        finder = {
            "ip": self._ip,
            "domain": self._domain,
            "autnum": self._autnum,
            "entity": self._entity,
        }[kind]
        return finder(key, base)

    def _recorded(self, found: Found | None, base: str) -> Found | None:
        # Recorded links point at real registries: point them back at this server.
        return None if found is None else (found[0], rewrite_links(found[1], base))

    def _ip(self, key: str, base: str) -> Found | None:
        try:
            query = ipaddress.ip_network(key, strict=False)
        except ValueError:
            return None
        ip = query.network_address
        # A prefix (a parent link) asks for the network holding all of it; an address, its own.
        world = self.world
        in_world = world.network_covering(query) if "/" in key else world.network_for(ip)
        if in_world is not None:
            hoster, net = in_world
            return hoster.registry, network_doc(hoster, net, base, self.world.parent_of(net))
        return self._recorded(self.corpus.network(ip), base)

    def _autnum(self, key: str, base: str) -> Found | None:
        digits = key.upper().removeprefix("AS")
        if not digits.isdigit():
            return None
        hoster = self.world.hoster_by_asn(int(digits))
        if hoster is not None:
            return hoster.registry, autnum_doc(hoster, base)
        return self._recorded(self.corpus.autnums.get(int(digits)), base)

    def _domain(self, key: str, base: str) -> Found | None:
        name = key.lower().rstrip(".")
        domain = next((d for d in self.world.domains if d.name == name), None)
        if domain is None:
            return self._recorded(self.corpus.domains.get(name), base)
        registry = TLD_REGISTRY.get(name.rsplit(".", 1)[-1], f"{name.rsplit('.', 1)[-1]}-nic")
        registrar = self.world.registrar(domain.registrar) if domain.registrar else None
        return registry, domain_doc(domain, registrar, registry, base)

    def _entity(self, key: str, base: str) -> Found | None:
        hoster: Hoster | None = self._entities.get(key.upper())
        if hoster is not None:
            doc = find_entity(hoster, key, base)
            if doc is not None:
                return hoster.registry, doc
        return self._recorded(self.corpus.entities.get(key.upper()), base)

    # --- faults and rate limits -----------------------------------------------------------
    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        fault = self.faults.take(request.path)
        if fault is None:
            return await handler(request)
        if fault.kind == "slow":
            # Wake early at shutdown instead of holding the runner's cleanup.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.delay)
            return await handler(request)
        if fault.kind == "429":
            return _error(429, "Too Many Requests", {"Retry-After": str(fault.retry_after)})
        return _error(int(fault.kind), "simulated server failure")

    def _rate_limited(self, registry: str, client: str) -> web.Response | None:
        rule = self.rate_limits.get(registry)
        if rule is None:
            return None
        now = self.clock.now()
        seen = self._seen.setdefault((registry, client), deque())
        while seen and seen[0] <= now - rule.per:
            seen.popleft()
        if len(seen) >= rule.limit:
            self.counts[f"{registry}:rate_limited"] += 1
            wait_sim = seen[0] + rule.per - now
            wait = self.clock.to_real(wait_sim) or wait_sim
            return _error(429, "rate limit exceeded", {"Retry-After": str(max(1, round(wait)))})
        seen.append(now)
        return None


def _base(request: web.Request) -> str:
    return f"http://{request.host}"


def _error(status: int, title: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"rdapConformance": ["rdap_level_0"], "errorCode": status, "title": title}
    return web.Response(
        status=status, text=json.dumps(body), content_type=RDAP_JSON, headers=headers
    )
