"""DNS for resolution: every address of a host (CNAME chain, all A and AAAA) and TXT lookups.

dnspython's async resolver against `settings.dns_nameservers` (host[:port]) or the system
resolver. Outcomes are told apart because they mean different things for a case: NXDOMAIN
and NODATA are facts (PermanentLookupError subclasses), SERVFAIL and timeouts are transient
(TransientLookupError: the case is retried, never concluded). Answers are cached in-process
for their TTL so that a warm resolver asks nothing twice.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver

from service import observability as obs
from service.errors import PermanentLookupError, TransientLookupError
from service.settings import Settings, nameserver_address

_MAX_CACHE = 200_000
NEGATIVE_TTL = 300.0  # seconds a NXDOMAIN/NODATA answer is remembered


class HostNotFound(PermanentLookupError):
    """NXDOMAIN: the name does not exist."""


class NoAddress(PermanentLookupError):
    """NODATA: the name exists but has no A or AAAA record."""


@dataclass(frozen=True)
class HostAddresses:
    """Where a host name leads: the CNAME chain and every address at its end."""

    host: str
    cnames: tuple[str, ...]
    addresses: tuple[str, ...]
    notes: tuple[str, ...] = ()


def ip_literal(host: str) -> str | None:
    """The canonical address when `host` is an IP literal (URLs may bracket IPv6)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).compressed
    except ValueError:
        return None


def build_resolver(settings: Settings) -> dns.asyncresolver.Resolver:
    """A resolver for the configured nameservers (host[:port], IPv6 as [addr]:port)."""
    if not settings.dns_nameservers:
        resolver = dns.asyncresolver.Resolver(configure=True)
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [_nameserver(spec) for spec in settings.dns_nameservers]
    resolver.timeout = settings.dns_timeout
    resolver.lifetime = settings.dns_timeout
    return resolver


def _nameserver(spec: str) -> dns.nameserver.Nameserver:
    return dns.nameserver.Do53Nameserver(*nameserver_address(spec))


class DnsClient:
    """Cached A/AAAA/TXT lookups with outcomes translated into service errors."""

    def __init__(self, settings: Settings, resolver: dns.asyncresolver.Resolver | None = None):
        self.resolver = resolver or build_resolver(settings)
        self.queries: Counter[str] = Counter()  # queries sent, by type
        self._cache: dict[tuple[str, str], tuple[float, list[str] | Exception, str | None]] = {}

    async def addresses(self, host: str) -> HostAddresses:
        """Every A and AAAA of `host` (after CNAMEs); raises HostNotFound/NoAddress/transient."""
        literal = ip_literal(host)
        if literal is not None:
            return HostAddresses(host, (), (literal,))
        results = await asyncio.gather(
            self._query(host, "A", "address"),
            self._query(host, "AAAA", "address"),
            return_exceptions=True,
        )
        return _combine(host, results)

    async def txt(self, name: str, purpose: str = "txt") -> list[str] | None:
        """TXT strings of `name` (each record's strings joined); None for NXDOMAIN/NODATA.

        `purpose` (abusix, cymru) labels the query's latency and error metrics."""
        try:
            values, _ = await self._query(name, "TXT", purpose)
        except PermanentLookupError:
            return None
        return values

    async def _query(self, name: str, rdtype: str, purpose: str) -> tuple[list[str], str | None]:
        key = (name.lower().rstrip("."), rdtype)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            if isinstance(cached[1], Exception):  # a fresh instance: no traceback pile-up
                raise type(cached[1])(str(cached[1]))
            return cached[1], cached[2]
        self.queries[rdtype] += 1
        try:
            values, canonical, ttl = await self._measured(key[0], rdtype, purpose)
        except PermanentLookupError as exc:  # NXDOMAIN/NODATA are cached too (RFC 2308)
            self._store(key, NEGATIVE_TTL, exc, None)
            raise
        self._store(key, ttl, values, canonical)
        return values, canonical

    def _store(
        self, key: tuple[str, str], ttl: float, value: list[str] | Exception, canonical: str | None
    ) -> None:
        if len(self._cache) >= _MAX_CACHE:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + ttl, value, canonical)

    async def _measured(
        self, name: str, rdtype: str, purpose: str
    ) -> tuple[list[str], str | None, float]:
        """`_ask`, timed, with transient failures counted (NXDOMAIN/NODATA are answers)."""
        with obs.DNS_LATENCY.labels(purpose=purpose).time():
            try:
                return await self._ask(name, rdtype)
            except TransientLookupError as exc:
                obs.DNS_ERRORS.labels(purpose=purpose, kind=_error_kind(exc)).inc()
                raise

    async def _ask(self, name: str, rdtype: str) -> tuple[list[str], str | None, float]:
        try:
            answer = await self.resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN as exc:
            raise HostNotFound(f"{name}: NXDOMAIN") from exc
        except dns.resolver.NoAnswer as exc:
            raise NoAddress(f"{name}: no {rdtype} record (NODATA)") from exc
        except dns.resolver.NoNameservers as exc:
            raise TransientLookupError(f"{name} {rdtype}: SERVFAIL or refused ({exc})") from exc
        except dns.exception.Timeout as exc:
            raise TransientLookupError(f"{name} {rdtype}: DNS timeout") from exc
        except dns.exception.DNSException as exc:
            raise TransientLookupError(f"{name} {rdtype}: DNS failure ({exc})") from exc
        return (
            _values(answer, rdtype),
            _canonical(answer, name),
            float(answer.rrset.ttl if answer.rrset else 0),
        )


def _error_kind(exc: TransientLookupError) -> str:
    """timeout, servfail (SERVFAIL or refused by every server) or other."""
    cause = exc.__cause__
    if isinstance(cause, dns.exception.Timeout):
        return "timeout"
    if isinstance(cause, dns.resolver.NoNameservers):
        return "servfail"
    return "other"


def _values(answer: dns.resolver.Answer, rdtype: str) -> list[str]:
    if rdtype == "TXT":
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
    return [ipaddress.ip_address(r.address).compressed for r in answer]


def _canonical(answer: dns.resolver.Answer, name: str) -> str | None:
    """The CNAME chain, space-separated (one cache slot per query keeps it cheap)."""
    chain = [
        rr.target.to_text().rstrip(".").lower()
        for rrset in answer.chaining_result.cnames
        for rr in rrset
    ]
    return " ".join(chain) or None


def _combine(host: str, results: Sequence[object]) -> HostAddresses:
    """A and AAAA results into one answer; facts only when both agree, else retry."""
    addresses: list[str] = []
    canonical: str | None = None
    notes: list[str] = []
    for result in results:
        if isinstance(result, tuple):
            addresses += result[0]
            canonical = canonical or result[1]
        elif isinstance(result, TransientLookupError):
            notes.append(str(result))
    if addresses:
        chain = tuple(canonical.split()) if canonical else ()
        return HostAddresses(host, chain, tuple(dict.fromkeys(addresses)), tuple(notes))
    transient = [r for r in results if isinstance(r, TransientLookupError)]
    if transient:
        raise transient[0]
    if all(isinstance(r, HostNotFound) for r in results):
        raise HostNotFound(f"{host}: NXDOMAIN")
    other = [
        r
        for r in results
        if isinstance(r, BaseException) and not isinstance(r, PermanentLookupError)
    ]
    if other:
        raise other[0]
    raise NoAddress(f"{host}: no A or AAAA record (NODATA)")
