"""RDAP answers cached per network (not per address), in Postgres and in memory.

Postgres is the shared cache: every worker on every host sees a network as soon as one of
them has looked it up; entries expire after `rdap_cache_ttl`, negative answers after the
shorter `rdap_negative_cache_ttl`. A per-process memory layer in front keeps warm
resolution off the database (thousands of URLs a second); it honours the same expiry.
"""

from __future__ import annotations

import ipaddress
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg

from service.db import resolve_repo
from service.resolve.network import NetworkRecord

NEGATIVE = "negative"
_SCAN_BACK = 64  # nested networks: how far back from the nearest start to look


@dataclass(order=True)
class _Entry:
    start: int
    end: int
    expires: float = field(compare=False)
    record: NetworkRecord | None = field(compare=False)  # None = negative
    origin_asn: int | None = field(default=None, compare=False)


class MemoryNetworks:
    """Address-range lookup over cached networks, one sorted list per IP version."""

    def __init__(self) -> None:
        self._entries: dict[int, list[_Entry]] = {4: [], 6: []}
        self._starts: dict[int, list[int]] = {4: [], 6: []}

    def get(self, ip: str, origin_asn: int | None = None) -> NetworkRecord | str | None:
        address = ipaddress.ip_address(ip)
        value, entries = int(address), self._entries[address.version]
        index = bisect_right(self._starts[address.version], value) - 1
        best: _Entry | None = None
        now = time.monotonic()
        for entry in reversed(entries[max(0, index - _SCAN_BACK) : index + 1]):
            inside = entry.start <= value <= entry.end and entry.expires > now
            inside = inside and _same_origin(entry.origin_asn, origin_asn)
            if inside and (best is None or entry.end - entry.start < best.end - best.start):
                best = entry
        if best is None:
            return None
        return NEGATIVE if best.record is None else best.record

    def put(
        self,
        start: str,
        end: str,
        record: NetworkRecord | None,
        ttl: float,
        origin_asn: int | None = None,
    ) -> None:
        first, last = ipaddress.ip_address(start), ipaddress.ip_address(end)
        entry = _Entry(int(first), int(last), time.monotonic() + ttl, record, origin_asn)
        entries, starts = self._entries[first.version], self._starts[first.version]
        index = bisect_right(starts, entry.start)
        for i in range(max(0, index - _SCAN_BACK), index):
            if entries[i].start == entry.start and entries[i].end == entry.end:
                entries[i] = entry
                return
        entries.insert(index, entry)
        starts.insert(index, entry.start)


def _same_origin(cached: int | None, asked: int | None) -> bool:
    """A network learned for one origin AS does not answer for addresses another AS announces
    (a reseller's own block inside its provider's allocation); unknown origins match."""
    return cached is None or asked is None or cached == asked


class NetworkCache:
    """Memory first, then Postgres; writes go to both."""

    def __init__(self, pool: asyncpg.Pool, ttl: timedelta, negative_ttl: timedelta) -> None:
        self.pool = pool
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.memory = MemoryNetworks()
        self.hits = {"memory": 0, "database": 0}

    async def get(self, ip: str, origin_asn: int | None = None) -> NetworkRecord | str | None:
        """A record, NEGATIVE (the registry has none, cached), or None (not cached)."""
        found = self.memory.get(ip, origin_asn)
        if found is not None:
            self.hits["memory"] += 1
            return found
        async with self.pool.acquire() as conn:
            row = await resolve_repo.network_for_ip(conn, ip, origin_asn)
        if row is None:
            return None
        self.hits["database"] += 1
        record = None if row.negative else NetworkRecord.from_json(_dict(row.record))
        self.memory.put(row.start, row.end, record, row.remaining, row.origin_asn)
        return NEGATIVE if record is None else record

    async def put(self, record: NetworkRecord, origin_asn: int | None = None) -> None:
        net = record.network
        async with self.pool.acquire() as conn:
            await resolve_repo.store_network(
                conn,
                net.start,
                net.end,
                registry=net.registry,
                handle=net.handle,
                record=record.to_json(),
                ttl=self.ttl,
                origin_asn=origin_asn,
            )
        self.memory.put(net.start, net.end, record, self.ttl.total_seconds(), origin_asn)

    async def put_negative(
        self, ip: str, registry: str | None, origin_asn: int | None = None
    ) -> None:
        async with self.pool.acquire() as conn:
            await resolve_repo.store_network(
                conn,
                ip,
                ip,
                registry=registry,
                handle=None,
                record=None,
                ttl=self.negative_ttl,
                origin_asn=origin_asn,
            )
        self.memory.put(ip, ip, None, self.negative_ttl.total_seconds(), origin_asn)


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("cached RDAP record is not an object")
    return value
