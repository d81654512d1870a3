"""From a URL to a routing decision with provenance: the resolver's orchestration.

DNS (every address) → Team Cymru origin (ASN, BGP prefix) → RDAP network of the primary
address (shared cache, coalesced per prefix, paced per registry) together with Abusix and
the registrar → CDN detection → contact book and hotlines → `routing_policy.decide` →
`add_upstream` (the upstream provider's desk, only when the network's cached record knows it).

The upstream provider (parent allocation or origin AS) is not looked up here: the escalation
ladder asks for it when a case reaches its upstream step (`upstream_of`, run by the 'upstream'
stage), and the answer is kept on the network's cached record for the network's other cases.

Transient failures never become conclusions: RDAP and DNS failures for the host propagate as
TransientLookupError; a failed second source (Abusix, Cymru, registrar) is only a note,
unless the decision would be "no contact", which then waits for a retry instead.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from service.domain.routing import Cdn, RoutingDecision, RoutingFacts
from service.domain.routing_policy import decide
from service.domain.upstream import UpstreamContact, add_upstream
from service.errors import TakedownError, TransientLookupError
from service.netguard import AddressGuard, GuardedConnector, endpoint
from service.parking import parked
from service.resolve.abusix import AbusixClient
from service.resolve.bootstrap import bootstrap_for
from service.resolve.cache import NEGATIVE, NetworkCache
from service.resolve.cdn import CdnDetector, load_cdn_data
from service.resolve.contact_book import ContactBook, Subject
from service.resolve.cymru import CymruClient, Origin
from service.resolve.dns import DnsClient, HostNotFound, NoAddress
from service.resolve.jurisdiction import hosting_country
from service.resolve.network import NetworkRecord, lookup_network
from service.resolve.politeness import Coalescer, PacingDeferral, gate_for
from service.resolve.rdap import RdapClient
from service.resolve.record import (
    Lookups,
    OtherNetwork,
    Resolution,
    build_resolution,
    other_route,
)
from service.resolve.registrar import RegistrarLookup
from service.resolve.upstream import UpstreamLookup
from service.settings import Settings

log = logging.getLogger(__name__)
# Facts about a host are reused for this long (well under DNS and RDAP TTLs): a scanner's
# batch holds many URLs on one host, and the warm path must not re-ask anything.
MEMO_SECONDS = 30.0
MEMO_SIZE = 100_000


def _asn(origin: Origin | None) -> int | None:
    return origin.asn if origin is not None else None


class Resolver:
    """Resolves URLs; one per process (its caches and politeness state are shared)."""

    def __init__(
        self, pool: asyncpg.Pool, settings: Settings, session: aiohttp.ClientSession
    ) -> None:
        self.dns = DnsClient(settings)
        self.rdap = RdapClient(
            session,
            bootstrap_for(settings),
            gate_for(settings),
            settings.rdap_timeout,
            settings.rdap_concurrency,
            settings.rdap_max_bytes,
        )
        # Upstream lookups (`upstream_of`) share the session, bootstrap and registry pacing but
        # count their queries apart: `self.rdap.queries` stays one per network.
        upstream_rdap = RdapClient(
            session,
            self.rdap.bootstrap,
            self.rdap.gate,
            settings.rdap_timeout,
            settings.rdap_concurrency,
            settings.rdap_max_bytes,
        )
        self.upstreams = UpstreamLookup(
            upstream_rdap, settings.rdap_cache_ttl, settings.rdap_negative_cache_ttl
        )
        self.cymru = CymruClient(self.dns, settings)
        self.abusix = AbusixClient(self.dns, settings.abusix_zone)
        ttl, negative = settings.rdap_cache_ttl, settings.rdap_negative_cache_ttl
        self.cache = NetworkCache(pool, ttl, negative)
        self.registrars = RegistrarLookup(pool, self.rdap, ttl, negative)
        self.book = ContactBook(pool)
        self.cdns = CdnDetector(load_cdn_data(settings.resolve_data_dir))
        self._coalescer = Coalescer()
        self._fetching: dict[int | None, set[asyncio.Future[None]]] = {}
        self._memo: dict[str, tuple[float, Lookups, str | None]] = {}
        self._cdn_memo: dict[tuple[str, int | None, tuple[str, ...]], Cdn | None] = {}

    async def resolve(self, url: str, *, accept_partial: bool = True) -> Resolution:
        """The routing decision for `url`.

        With `accept_partial=False` a failed second source (Abusix, Cymru, registrar) defers
        the decision instead of leaving its part out: an outage must not change who is told.
        """
        host = (urlsplit(url).hostname or "").lower()
        found, reason = await self._host_lookups(url, host)
        facts = await self._facts(found, reason)
        decision = add_upstream(decide(facts), found.upstream)
        if found.failures and (not accept_partial or not decision.resolved):
            what = "no contact found" if not decision.resolved else "a second source is down"
            raise TransientLookupError(
                f"{what} while a source failed: " + "; ".join(found.failures)
            )
        resolution = build_resolution(found, facts, decision)
        others = await self._other_routes(found, facts, decision)
        if not others:
            return resolution
        return replace(
            resolution,
            route=resolution.route | {"address_routes": others},
            detail=resolution.detail | {"other_networks": others},
        )

    async def _other_routes(
        self, found: Lookups, facts: RoutingFacts, decision: RoutingDecision
    ) -> list[dict[str, Any]]:
        """A route per other network of the host, decided by the same policy; a network
        whose best desk is already a recipient of the case is not told twice."""
        told = {r.address for r in decision.recipients}
        routes = []
        for other in found.others:
            network = other.record.network if other.record else None
            if network is not None:
                network = replace(network, asn=other.origin.asn)
            ips = tuple(other.ips)
            names = tuple(n for n in (network and network.name, network and network.org) if n)
            subject = Subject(found.host, ips, other.origin.asn, names)
            mine = decide(
                replace(
                    facts,
                    ips=ips,
                    network=network,
                    findings=other.record.findings if other.record else None,
                    abusix=other.abusix,
                    cdn=None,
                    registrar=None,  # the domain's registrar is the first route's fallback
                    rules=await self.book.rules_for(subject),
                    country=(network.country if network else None) or other.origin.country,
                )
            )
            first = next((r.address for r in mine.recipients if not r.copy), None)
            if first is not None and first in told:
                continue
            told |= {r.address for r in mine.recipients}
            routes.append(other_route(other, network, mine))
        return routes

    async def _host_lookups(self, url: str, host: str) -> tuple[Lookups, str | None]:
        """DNS and registry facts of a host, memoised briefly: URLs share hosts."""
        now = time.monotonic()
        memo = self._memo.get(host)
        if memo is not None and memo[0] > now:
            return replace(memo[1], url=url, notes=list(memo[1].notes)), memo[2]
        found = Lookups(url, host)
        reason = await self._dns(found)
        if reason is None:
            await self._lookups(found)
        if not found.failures:  # a partial answer is never reused
            if len(self._memo) > MEMO_SIZE:
                self._memo.clear()
            self._memo[host] = (now + MEMO_SECONDS, replace(found, notes=list(found.notes)), reason)
        return found, reason

    async def _dns(self, found: Lookups) -> str | None:
        try:
            found.addresses = await self.dns.addresses(found.host)
        except HostNotFound:
            return f"NXDOMAIN: {found.host} does not exist"
        except NoAddress:
            return f"NODATA: {found.host} has no A or AAAA record"
        found.notes += found.addresses.notes
        return None

    async def _lookups(self, found: Lookups) -> None:
        """The primary address's network, its Abusix contacts and the domain's registrar run
        side by side: none needs another's answer, and each registry's queue is fed as soon
        as the host is known (a registrar query waiting for the network's RIR would run at
        that RIR's pace). The other networks need the primary's, so they come after."""
        assert found.addresses is not None
        ip = primary_address(found.addresses.addresses)
        await _together(
            self._primary_network(found, ip), self._abusix(found, ip), self._registrar(found)
        )
        await self._other_networks(found, ip)

    async def _primary_network(self, found: Lookups, ip: str) -> None:
        found.origin = await self._second(found, "cymru", self.cymru.origin(ip))
        found.record, found.rdap_source = await self.network(ip, found.origin)
        if found.record is not None and found.record.upstream_known:
            found.upstream = found.record.upstream  # known already: no query on this path

    async def _abusix(self, found: Lookups, ip: str) -> None:
        found.abusix = await self._second(found, "abusix", self.abusix.contacts(ip)) or ()

    async def _registrar(self, found: Lookups) -> None:
        found.registrar = await self._second(
            found, "registrar", self.registrars.for_host(found.host)
        )

    async def _other_networks(self, found: Lookups, primary: str) -> None:
        """The host's other addresses, grouped by origin AS; an AS other than the primary
        address's is another network, looked up like the first (RDAP and Abusix once per
        network). Addresses inside the primary's RDAP network, or of the same AS, are the
        same provider: one origin query each, nothing more."""
        assert found.addresses is not None
        groups: dict[int, OtherNetwork] = {}
        ours = _asn(found.origin)
        if ours is None:
            return  # the primary's origin is unknown: no AS to tell another one from
        for ip in found.addresses.addresses:
            if ip == primary or (found.record is not None and found.record.contains(ip)):
                continue
            origin = await self._second(found, "cymru", self.cymru.origin(ip))
            asn = _asn(origin)
            if origin is None or asn is None or asn == ours:
                continue
            if asn in groups:
                groups[asn].ips.append(ip)
                continue
            record, _source = await self.network(ip, origin)
            abusix = await self._second(found, "abusix", self.abusix.contacts(ip)) or ()
            groups[asn] = OtherNetwork([ip], origin, record, abusix)
        found.others = list(groups.values())

    async def _second(self, found: Lookups, name: str, call: Any) -> Any:
        try:
            return await call
        except TakedownError as exc:
            if not exc.transient or isinstance(exc, PacingDeferral):
                raise  # a reserved registry slot is not a failed source: come back for it
            found.failures.append(f"{name}: {exc}")
            return None

    async def network(self, ip: str, origin: Origin | None) -> tuple[NetworkRecord | None, str]:
        """The RDAP network of `ip` and where it came from (cache or registry).

        Concurrent first lookups meet on ever narrower keys (origin AS, announced prefix, the
        address): the routing table's prefix need not be the registry's network (providers
        announce more-specifics of one registered block), so addresses of one network in
        different prefixes first wait for one lookup per origin AS. A follower whose address
        the shared answer does not cover asks the range cache again, then the next key; a
        leader's own answer always covers it, so a first lookup costs one registry query.
        """
        record: NetworkRecord | None = None
        for step, key in enumerate(meeting_keys(ip, origin)):
            cached = await self.cache.get(ip, _asn(origin))
            if cached is not None:
                found = None if cached == NEGATIVE else cached
                return found, "cache" if step == 0 else "rdap"  # type: ignore[return-value]
            record = await self._coalescer.run(key, partial(self._fetch, ip, origin, key))
            if record is not None and record.contains(ip):
                break
        return record, "rdap"

    async def _fetch(self, ip: str, origin: Origin | None, key: Hashable) -> NetworkRecord | None:
        """The registry's answer; `key` (where the lookup's callers meet) is also the ticket
        of a far registry slot: those callers come back together and one of them uses it."""
        asn = _asn(origin)
        cached = await self._cached_after_fetches_of(ip, asn)
        if cached is not None:
            return None if cached == NEGATIVE else cached  # type: ignore[return-value]
        finished = asyncio.get_running_loop().create_future()
        self._fetching.setdefault(asn, set()).add(finished)
        try:
            return await self._query(ip, origin, asn, key)
        finally:
            self._fetching[asn].discard(finished)
            finished.set_result(None)

    async def _cached_after_fetches_of(
        self, ip: str, asn: int | None
    ) -> NetworkRecord | str | None:
        """The cache's answer once no registry query for the same origin AS is in flight.

        First lookups within one AS go one after another, so a late caller that missed every
        coalescing key still meets a concurrent caller's answer in the cache instead of asking
        the registry again. Unknown origins do not wait.
        """
        while True:
            pending = self._fetching.get(asn) if asn is not None else None
            if pending:
                async with parked():  # another lookup's answer: no worker slot needed
                    await asyncio.wait(list(pending))
                continue
            cached = await self.cache.get(ip, asn)
            if cached is not None or asn is None or not self._fetching.get(asn):
                return cached

    async def _query(
        self, ip: str, origin: Origin | None, asn: int | None, ticket: Hashable
    ) -> NetworkRecord | None:
        registry = self.rdap.bootstrap.registry_of_ip(ip) or (origin.registry if origin else None)
        record = await lookup_network(self.rdap, ip, registry, ticket)
        if record is None:
            await self.cache.put_negative(ip, registry, asn)
        else:
            await self.cache.put(record, asn)
        return record

    async def upstream_of(self, ip: str, asn: int | None) -> UpstreamAnswer:
        """The upstream desk of the network holding `ip` (announced by `asn`), for the ladder.

        Read from the network's cached record when a case of the network asked before; else
        the network (cache or RDAP), then its parent allocation or origin AS are queried and
        the answer is kept on the network's record. Registry failures propagate
        (TransientLookupError).
        """
        origin = Origin(asn, None, None, None) if asn is not None else None
        record, _source = await self.network(ip, origin)
        if record is None:
            return UpstreamAnswer(None, "rdap", f"RDAP knows no network holding {ip}")
        if record.upstream_known:
            return UpstreamAnswer(record.upstream, "cache", _nobody(record, asn))
        upstream = await self.upstreams.find(record, asn)
        await self.cache.put(record.with_upstream(upstream), asn)
        return UpstreamAnswer(upstream, "rdap", _nobody(record, asn))

    async def _facts(self, found: Lookups, reason: str | None) -> RoutingFacts:
        record, origin = found.record, found.origin
        network = record.network if record else None
        if network is not None and origin is not None and origin.asn is not None:
            network = replace(network, asn=origin.asn)
        country, note = hosting_country(network, origin)
        if note:
            found.notes.append(note)
        ips = found.addresses.addresses if found.addresses else ()
        names = tuple(
            n
            for n in (network and network.name, network and network.org, origin and origin.as_name)
            if n
        )
        asn = origin.asn if origin else None
        subject = Subject(found.host, ips, asn, names)
        return RoutingFacts(
            ips=ips,
            network=network,
            findings=record.findings if record else None,
            abusix=found.abusix,
            cdn=self._cdn(ips[0], asn, names) if ips and reason is None else None,
            registrar=found.registrar,
            rules=await self.book.rules_for(subject) if reason is None else (),
            hotlines=await self.book.hotlines(),
            country=country,
            no_host_reason=reason,
        )

    def _cdn(self, ip: str, asn: int | None, names: tuple[str, ...]) -> Cdn | None:
        key = (ip, asn, names)
        if key not in self._cdn_memo:
            self._cdn_memo[key] = self.cdns.detect(ip, asn, list(names))
        return self._cdn_memo[key]

    def stats(self) -> dict[str, Any]:
        return {
            "dns_queries": sum(self.dns.queries.values()),
            "rdap_queries": dict(self.rdap.queries),
            "rdap_upstream_queries": dict(self.upstreams.rdap.queries),
            "cache_hits": dict(self.cache.hits),
            "coalesced": self._coalescer.shared,
        }


@dataclass(frozen=True)
class UpstreamAnswer:
    """What `upstream_of` found, where from ("cache" or "rdap"), and why nobody if not."""

    upstream: UpstreamContact | None
    answered_from: str
    reason: str


def _nobody(record: NetworkRecord, asn: int | None) -> str:
    parent = "its parent allocation" if record.parent_link else "no parent allocation"
    origin = f"AS{asn}" if asn is not None else "no known origin AS"
    return (
        f"no abuse desk beyond the network's own ({parent}, {origin}; registry desks and"
        " guesses do not count)"
    )


async def _together(*lookups: Coroutine[Any, Any, None]) -> None:
    """Run `lookups` concurrently and let each finish (a query already under way completes
    and is cached, a reserved slot stays reserved). Then a failure propagates; if the only
    trouble is reserved registry slots, the soonest one's deferral does: the job comes back
    for it, and a slot still far off then defers it again (its reservation is kept)."""
    outcomes = await asyncio.gather(*lookups, return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    failures = [e for e in errors if not isinstance(e, PacingDeferral)]
    if failures:
        raise failures[0]
    deferrals = [e for e in errors if isinstance(e, PacingDeferral)]
    if deferrals:
        raise min(deferrals, key=lambda d: d.retry_after or 0.0)


def meeting_keys(ip: str, origin: Origin | None) -> list[tuple[object, ...]]:
    """Where concurrent first lookups of `ip` meet others, widest first; the last is the IP."""
    keys: list[tuple[object, ...]] = []
    if origin is not None and origin.asn is not None:
        keys.append(("asn", origin.asn, ipaddress.ip_address(ip).version))
    if origin is not None and origin.prefix:
        keys.append(("prefix", origin.prefix))
    return [*keys, ("ip", ip)]


def primary_address(addresses: tuple[str, ...]) -> str:
    """The address the routing follows: the first IPv4 if any (most hosting), else the first."""
    return next((a for a in addresses if ":" not in a), addresses[0])


@asynccontextmanager
async def open_resolver(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[Resolver]:
    """A Resolver with its own HTTP session (closed on exit).

    Registries' redirects and the self and parent links of their answers are URLs taken from
    others: the session connects only to public addresses (the SSRF guard the probe uses),
    except the operator's own RDAP redirector (`TAKEDOWN_RDAP_BOOTSTRAP_URL`)."""
    guard = AddressGuard(settings.allow_private_targets)
    connector = GuardedConnector(
        guard, _configured_hosts(settings), limit=settings.rdap_concurrency * 2
    )
    async with aiohttp.ClientSession(
        connector=connector, trust_env=False, auto_decompress=False
    ) as session:
        yield Resolver(pool, settings, session)


def _configured_hosts(settings: Settings) -> set[tuple[str, int]]:
    """The redirector the operator configured (host and port), trusted wherever it is."""
    return endpoint(settings.rdap_bootstrap_url)
