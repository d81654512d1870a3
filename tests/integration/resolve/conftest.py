"""Loopback peers for resolution tests: the simulated DNS and RDAP servers.

The RDAP server also serves the recorded corpus (../shared/rdap-corpus/) when present, and
the DNS server answers Team Cymru origins for the corpus' addresses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.resolve.resolver import Resolver, open_resolver
from service.settings import Settings
from service.sim.clock import SimClock
from service.sim.dns import DnsServer
from service.sim.rdap import RdapServer
from service.sim.rdap_corpus import load_corpus
from service.sim.world import World
from tests.conftest import make_settings

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "rdap-corpus"


@dataclass
class Peers:
    world: World
    dns: DnsServer
    rdap: RdapServer

    def settings(self, db_url: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "dns_nameservers": [self.dns.address],
            "dns_timeout": 0.5,
            "rdap_bootstrap_url": self.rdap.url,
            "rdap_timeout": 2.0,
            "rdap_rate_limits": {},
            "rdap_default_rate": 6000.0,
        }
        values.update(overrides)
        return make_settings(db_url, **values)


@asynccontextmanager
async def serving(world: World, rdap: RdapServer, dns: DnsServer) -> AsyncIterator[Peers]:
    """Start the world's RDAP and DNS servers; stopped on exit."""
    await rdap.start()
    await dns.start()
    try:
        yield Peers(world, dns, rdap)
    finally:
        await dns.stop()
        await rdap.stop()


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    world = World.default()
    corpus = load_corpus(CORPUS if CORPUS.is_dir() else None)
    rdap = RdapServer(world, SimClock(), corpus)
    async with serving(world, rdap, DnsServer(world, extra_origins=corpus.origins)) as started:
        yield started


@pytest.fixture
async def resolver(pool: asyncpg.Pool, peers: Peers, db_url: str) -> AsyncIterator[Resolver]:
    async with open_resolver(pool, peers.settings(db_url)) as made:
        yield made
