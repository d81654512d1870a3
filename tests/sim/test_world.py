from __future__ import annotations

import ipaddress
from collections import Counter

import pytest
from pydantic import ValidationError

from service.sim.generator import generate_world
from service.sim.images import content_bytes, hashes_of
from service.sim.scanner import reports as scanner_reports
from service.sim.world import BehaviourKind, World


def test_small_world_covers_every_behaviour(world: World) -> None:
    kinds = {h.behaviour.kind for h in world.hosters}
    assert kinds == set(BehaviourKind)
    assert any(h.cdn for h in world.hosters)
    assert 25 <= len(world.urls) <= 35


def test_small_world_has_ipv6_cname_chains_and_a_cctld_without_abuse(world: World) -> None:
    addresses = [ip for u in world.urls for ip in world.resolve(u.host)]
    assert {ip.version for ip in addresses} == {4, 6}
    assert world.record("media.sunny-gallery.net").cname == "sunny-gallery.pixelbarn.com"
    baltic = world.domain_of("i.baltichost.lv")
    assert baltic is not None and baltic.registrar is not None
    assert world.registrar(baltic.registrar).abuse is None


def test_world_addresses_are_public(world: World) -> None:
    for h in world.hosters:
        assert all(n.network_address.is_global for n in h.networks)
    with pytest.raises(ValidationError):
        World.model_validate(
            {
                "hosters": [
                    {
                        "name": "x",
                        "country": "NL",
                        "registry": "ripe",
                        "asn": 1,
                        "networks": ["10.0.0.0/8"],
                    }
                ]
            }
        )


def test_longest_prefix_match_picks_the_reseller(world: World) -> None:
    found = world.network_for(ipaddress.ip_address("94.130.170.66"))
    assert found is not None and found[0].name == "shadowvps"
    found = world.network_for(ipaddress.ip_address("94.130.161.50"))
    assert found is not None and found[0].name == "bergcloud"


def test_cdn_fronts_an_origin(world: World) -> None:
    entry = world.url_entry("http://cdn.kittenpics.org/p/91.jpg")
    assert entry is not None and entry.hoster == "pixelbarn"
    front = world.front_of(entry)
    assert front is not None and front.name == "maplecdn"


def test_url_key_ignores_scheme_and_host_case(world: World) -> None:
    assert world.url_entry("HTTPS://EDGE.pixelbarn.com/u/1001/a.jpg") is not None
    assert world.url_entry("http://edge.pixelbarn.com/u/1001/nothing.jpg") is None


def test_generator_is_deterministic_for_a_seed() -> None:
    a = generate_world(seed=42, hosters=16, urls=300)
    b = generate_world(seed=42, hosters=16, urls=300)
    c = generate_world(seed=43, hosters=16, urls=300)
    assert a.model_dump() == b.model_dump()
    assert a.model_dump() != c.model_dump()


def test_generator_is_skewed_shared_and_fronted() -> None:
    w = generate_world(seed=7, hosters=20, urls=1000)
    counts = Counter(u.hoster for u in w.urls).most_common()
    assert 0.45 <= counts[0][1] / len(w.urls) <= 0.51
    assert counts[1][1] < counts[0][1] / 2
    places = Counter(u.content for u in w.urls)
    shared = [c for c, n in places.items() if n > 1]
    assert shared and len({u.hoster for u in w.urls if u.content == shared[0]}) >= 1
    assert any(len({u.hoster for u in w.urls if u.content == c}) > 1 for c in shared)
    assert any(w.front_of(u) is not None for u in w.urls)
    assert {h.behaviour.kind for h in w.hosters} == set(BehaviourKind)
    assert {h.registry for h in w.hosters} >= {"arin", "ripe"}


def test_world_round_trips_through_yaml_and_json(tmp_path, world: World) -> None:
    for name in ("w.yaml", "w.json"):
        world.dump(tmp_path / name)
        assert World.load(tmp_path / name).model_dump() == world.model_dump()


def test_reports_carry_the_hashes_of_what_is_served(world: World) -> None:
    reports = list(scanner_reports(world))
    assert len(reports) == len(world.urls)
    first = reports[0]
    entry = world.url_entry(first["url"])
    assert entry is not None
    served = hashes_of(content_bytes(world.contents[entry.content]))
    assert first["hashes"] == {"sha256": served.sha256, "pdq": served.pdq}
    assert first["media_type"] == "image/jpeg"
    assert set(first) == {"url", "hashes", "media_type", "detected_at", "source_ref"}
    assert len({r["source_ref"] for r in reports}) == len(reports)


def test_small_world_mails_the_hotline_back_in_every_way(world: World) -> None:
    from service.sim.world import MailReaction

    assert {h.behaviour.mail for h in world.hosters} >= set(MailReaction)
