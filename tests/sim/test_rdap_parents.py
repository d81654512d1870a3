"""The simulated registries publish parent allocations (`links` rel="up") and autnums."""

from __future__ import annotations

from typing import Any

import aiohttp

from service.sim.generator import generate_world
from service.sim.runner import SimulatedInternet


async def _get(net: SimulatedInternet, path: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.get(net.rdap_url + path) as r:
        assert r.status == 200
        body: dict[str, Any] = await r.json(content_type=None)
        return body


def _links(doc: dict[str, Any], rel: str) -> list[str]:
    return [link["href"] for link in doc.get("links", []) if link.get("rel") == rel]


def _emails(doc: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    stack = list(doc.get("entities", []))
    while stack:
        entity = stack.pop()
        props = entity.get("vcardArray", ["vcard", []])[1]
        found |= {p[3] for p in props if p[0] == "email"}
        stack += entity.get("entities", [])
    return found


async def test_a_resellers_block_links_up_to_its_providers_allocation(
    net: SimulatedInternet,
) -> None:
    reseller = await _get(net, "/ip/94.130.170.66")  # ShadowVPS's /24 inside Bergcloud's /20
    assert reseller["handle"] == "94.130.170.0 - 94.130.170.255"
    assert reseller["parentHandle"] == "94.130.160.0 - 94.130.175.255"
    (up,) = _links(reseller, "up")
    assert up.endswith("/ripe/ip/94.130.160.0/20")
    parent = await _get(net, up.removeprefix(net.rdap_url))
    assert parent["handle"] == "94.130.160.0 - 94.130.175.255"
    assert "abuse@bergcloud.de" in _emails(parent)
    assert net.rdap.counts["ip-prefix"] == 1  # a parent fetched by prefix is counted apart
    # A provider's own allocation has no parent in the world.
    assert _links(parent, "up") == []


async def test_a_prefix_query_answers_the_network_holding_the_whole_prefix(
    net: SimulatedInternet,
) -> None:
    # 94.130.170.0/24 is ShadowVPS's block; the /23 around it only Bergcloud's /20 holds.
    assert (await _get(net, "/ip/94.130.170.0/24"))["handle"].startswith("94.130.170.0")
    assert (await _get(net, "/ip/94.130.170.0/23"))["handle"].startswith("94.130.160.0")


async def test_autnum_names_the_as_holder(net: SimulatedInternet) -> None:
    doc = await _get(net, "/autnum/213230")
    assert doc["objectClassName"] == "autnum" and doc["startAutnum"] == 213230
    assert "abuse@bergcloud.de" in _emails(doc)


def test_generated_worlds_have_resellers_inside_provider_allocations() -> None:
    world = generate_world(seed=1, hosters=20, urls=200)
    nested = [
        (h.name, parent[0].name)
        for h in world.hosters
        for block in h.networks
        if (parent := world.parent_of(block)) is not None
    ]
    assert nested and all(child != provider for child, provider in nested)
    for child, _provider in nested:  # the reseller's own URLs still route to its own block
        for entry in world.urls_of(child):
            if world.front_of(entry) is None:
                found = world.network_for(world.resolve(entry.host)[0])
                assert found is not None and found[0].name == child
