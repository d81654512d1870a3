"""The registrar of a URL's domain, via domain RDAP for the registrable domain.

The registrable domain comes from the Public Suffix List snapshot bundled with tldextract,
never fetched (`suffix_list_urls=()`); answers are cached per registrable domain in Postgres
(negative ones shorter) and in memory.
"""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cache

import asyncpg
import tldextract

from service.db import resolve_repo
from service.domain.registrar_info import Registrar, registrar_from_domain
from service.resolve.dns import ip_literal
from service.resolve.politeness import Coalescer
from service.resolve.rdap import RdapClient


@cache
def _extractor() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registrable_domain(host: str) -> str | None:
    """'img.example.co.uk' → 'example.co.uk'; None for IP literals and bare suffixes."""
    if ip_literal(host) is not None:
        return None
    parts = _extractor()(host.lower().rstrip("."))
    return f"{parts.domain}.{parts.suffix}" if parts.domain and parts.suffix else None


class RegistrarLookup:
    """Registrar answers with a shared cache and coalesced concurrent lookups."""

    def __init__(
        self, pool: asyncpg.Pool, client: RdapClient, ttl: timedelta, negative_ttl: timedelta
    ) -> None:
        self.pool, self.client = pool, client
        self.ttl, self.negative_ttl = ttl, negative_ttl
        self._memory: dict[str, tuple[float, Registrar | None]] = {}
        self._coalescer = Coalescer()

    async def for_host(self, host: str) -> Registrar | None:
        domain = registrable_domain(host)
        if domain is None:
            return None
        cached = self._memory.get(domain)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return await self._coalescer.run(domain, lambda: self._load(domain))

    async def _load(self, domain: str) -> Registrar | None:
        async with self.pool.acquire() as conn:
            stored = await resolve_repo.domain_get(conn, domain)
        if stored is not None:
            found = None if stored[0] or stored[1] is None else Registrar(**stored[1])
            return self._remember(domain, found, self.ttl)
        # Transient failures propagate; the domain is the ticket of a far registry slot.
        doc = await self.client.domain(domain, ticket=("domain", domain))
        found = registrar_from_domain(doc) if doc else None
        ttl = self.ttl if found else self.negative_ttl
        async with self.pool.acquire() as conn:
            await resolve_repo.domain_store(conn, domain, found.as_json() if found else None, ttl)
        return self._remember(domain, found, ttl)

    def _remember(self, domain: str, found: Registrar | None, ttl: timedelta) -> Registrar | None:
        self._memory[domain] = (time.monotonic() + ttl.total_seconds(), found)
        return found
