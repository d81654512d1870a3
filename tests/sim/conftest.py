"""Fixtures: the small world running on loopback with a frozen clock (tests move time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncresolver
import pytest

from service.sim.runner import SimulatedInternet
from service.sim.world import World

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "rdap-corpus"


@pytest.fixture(scope="session")
def world() -> World:
    return World.default()


@pytest.fixture
async def net(world: World) -> AsyncIterator[SimulatedInternet]:
    corpus = CORPUS if CORPUS.is_dir() else None
    async with SimulatedInternet(world, corpus_dir=corpus, time_scale=0) as running:
        yield running


@pytest.fixture
def resolver(net: SimulatedInternet) -> dns.asyncresolver.Resolver:
    host, port = net.dns_address.rsplit(":", 1)
    r = dns.asyncresolver.Resolver(configure=False)
    r.nameservers = [host]
    r.port = int(port)
    r.timeout = r.lifetime = 2.0
    return r
