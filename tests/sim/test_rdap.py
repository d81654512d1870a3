from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from service.sim.rdap import RateLimit
from service.sim.runner import SimulatedInternet
from service.sim.world import World
from tests.sim.conftest import CORPUS


async def _get(net: SimulatedInternet, path: str, **kw: Any) -> tuple[int, str, Any]:
    async with aiohttp.ClientSession() as s, s.get(net.rdap_url + path, **kw) as r:
        body = await r.json(content_type=None)
        return r.status, str(r.url.path), body


def _emails(entity: dict[str, Any]) -> list[str]:
    props = entity.get("vcardArray", ["vcard", []])[1]
    return [p[3] for p in props if p[0] == "email"]


def _walk(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for e in entities:
        out.append(e)
        out += _walk(e.get("entities", []))
    return out


async def test_bootstrap_redirects_to_the_registry(net: SimulatedInternet) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(net.rdap_url + "/ip/94.130.170.66", allow_redirects=False) as r:
            assert r.status == 302
            assert r.headers["Location"].endswith("/ripe/ip/94.130.170.66")
        async with s.get(net.rdap_url + "/ip/94.130.170.66") as r:
            assert r.content_type == "application/rdap+json"
    assert net.rdap.counts["redirect"] == 2 and net.rdap.counts["ripe:ip"] == 1


async def test_longest_prefix_match(net: SimulatedInternet) -> None:
    _, _, reseller = await _get(net, "/ip/94.130.170.66")
    _, _, holder = await _get(net, "/ip/94.130.161.50")
    assert reseller["startAddress"] == "94.130.170.0" and reseller["name"] == "SHADOWVPS-NET"
    assert holder["startAddress"] == "94.130.160.0" and holder["endAddress"] == "94.130.175.255"
    _, _, cidr = await _get(net, "/ip/94.130.170.0/24")
    assert cidr["name"] == "SHADOWVPS-NET"


async def test_unknown_objects_are_404(net: SimulatedInternet) -> None:
    for path in ("/ip/9.9.9.9", "/domain/nowhere.example", "/autnum/1", "/entity/NOPE-ARIN"):
        status, _, body = await _get(net, path)
        assert status == 404 and body["errorCode"] == 404


async def test_arin_nests_the_abuse_poc_in_the_registrant(net: SimulatedInternet) -> None:
    status, path, doc = await _get(net, "/ip/2602:fb12::10")
    assert status == 200 and path.startswith("/arin/") and doc["ipVersion"] == "v6"
    (org,) = doc["entities"]
    assert org["roles"] == ["registrant"] and not _emails(org)
    abuse = [e for e in org["entities"] if "abuse" in e["roles"]]
    assert _emails(abuse[0]) == ["abuse@pixelbarn.com"]


async def test_ripe_abuse_c_at_root_and_entities_to_fetch(net: SimulatedInternet) -> None:
    _, _, doc = await _get(net, "/ip/185.61.149.7")
    abuse = [e for e in doc["entities"] if e.get("roles") == ["abuse"]]
    assert _emails(abuse[0]) == ["abuse@tulpnet.nl"]
    no_card = [e for e in doc["entities"] if "vcardArray" not in e]
    assert no_card  # org and mntner: only reachable through their self link
    self_link = no_card[0]["links"][0]["href"]
    assert self_link.startswith(net.rdap_url)
    async with aiohttp.ClientSession() as s, s.get(self_link) as r:
        fetched = await r.json(content_type=None)
    assert fetched["handle"] == no_card[0]["handle"] and "vcardArray" in fetched


async def test_apnic_irt_lacnic_person_afrinic_without_roles(net: SimulatedInternet) -> None:
    _, _, apnic = await _get(net, "/ip/103.77.229.1")
    irt = next(e for e in apnic["entities"] if e["handle"].startswith("IRT-"))
    assert irt["roles"] == ["abuse"] and set(_emails(irt)) == {"abuse@sakurabox.jp"}
    _, _, lacnic = await _get(net, "/ip/177.85.100.4")
    person = next(e for e in lacnic["entities"] if "abuse" in e.get("roles", []))
    assert person["roles"] == ["administrative", "technical", "abuse"]
    assert [m.lower() for m in _emails(person)] == ["abuse@riohost.com.br"]
    _, _, afrinic = await _get(net, "/ip/102.67.141.9")
    assert all("roles" not in e for e in afrinic["entities"])
    assert "abuse@savannahost.co.za" in _emails(afrinic["entities"][0])


async def test_autnum(net: SimulatedInternet) -> None:
    status, path, doc = await _get(net, "/autnum/AS209311")
    assert status == 200 and path == "/ripe/autnum/AS209311"
    assert doc["startAutnum"] == 209311 and doc["objectClassName"] == "autnum"


async def test_domain_registrar_with_nested_abuse_and_cctld_without(net: SimulatedInternet) -> None:
    _, path, gtld = await _get(net, "/domain/pixelbarn.com")
    assert path == "/verisign/domain/pixelbarn.com"
    (registrar,) = gtld["entities"]
    assert registrar["publicIds"] == [{"type": "IANA Registrar ID", "identifier": "3847"}]
    assert _emails(registrar["entities"][0]) == ["abuse@namewell-registrar.com"]
    _, _, cctld = await _get(net, "/domain/baltichost.lv")
    (registrar,) = cctld["entities"]
    assert "publicIds" not in registrar and "entities" not in registrar
    assert _emails(registrar) == ["info@nicreseller.lv"]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="rdap corpus absent")
async def test_every_recorded_response_is_served_at_its_natural_path(
    net: SimulatedInternet,
) -> None:
    paths = {
        "arin_ip_74.125.225.229.json": "/ip/74.125.225.229",
        "arin_entity_ZG39-ARIN.json": "/entity/ZG39-ARIN",
        "domain_google.com_verisign.json": "/domain/google.com",
        "arin_autnum_AS13335_cloudflare.json": "/autnum/13335",
        "ripe_ip_62.239.237.1_BT.json": "/ip/62.239.237.1",
        "lacnic_ip6_2801-10-c000--.json": "/ip/2801:10:c000::",
        "afrinic_ip_196.11.240.215.json": "/ip/196.11.240.215",
        "domain_norway.no_norid.json": "/domain/norway.no",
    }
    for name, path in paths.items():
        recorded = json.loads((CORPUS / name).read_text())
        status, _, served = await _get(net, path)
        assert status == 200, path
        assert served.get("handle") == recorded.get("handle")
        assert served.get("entities") is not None or recorded.get("entities") is None
    assert net.rdap.corpus.files >= 20


@pytest.mark.skipif(not CORPUS.is_dir(), reason="rdap corpus absent")
async def test_recorded_links_point_back_at_the_simulator(net: SimulatedInternet) -> None:
    _, _, doc = await _get(net, "/ip/74.125.225.229")
    hrefs = [
        link["href"]
        for e in _walk(doc["entities"])
        for link in e.get("links", [])
        if link.get("rel") == "self"
    ]
    assert hrefs and all(h.startswith(net.rdap_url) for h in hrefs)
    zg39 = next(h for h in hrefs if h.endswith("/entity/ZG39-ARIN"))
    async with aiohttp.ClientSession() as s, s.get(zg39) as r:
        assert r.status == 200 and (await r.json(content_type=None))["handle"] == "ZG39-ARIN"


async def test_fault_429_with_retry_after_for_a_count(net: SimulatedInternet) -> None:
    net.rdap.faults.add("429", registry="ripe", count=2, retry_after=7)
    async with aiohttp.ClientSession() as s:
        for _ in range(2):
            async with s.get(net.rdap_url + "/ip/185.61.149.7") as r:
                assert r.status == 429 and r.headers["Retry-After"] == "7"
        async with s.get(net.rdap_url + "/ip/185.61.149.7") as r:
            assert r.status == 200
        async with s.get(net.rdap_url + "/ip/23.160.8.10") as r:  # other registry untouched
            assert r.status == 200


async def test_fault_5xx_until_cleared(net: SimulatedInternet) -> None:
    net.rdap.faults.add("503")
    status, _, body = await _get(net, "/domain/pixelbarn.com")
    assert status == 503 and body["errorCode"] == 503
    net.rdap.faults.clear()
    status, _, _ = await _get(net, "/domain/pixelbarn.com")
    assert status == 200


async def test_fault_slow_answers_time_out_a_client(net: SimulatedInternet) -> None:
    net.rdap.faults.add("slow", prefix="/arin/", delay=5.0, count=1)
    with pytest.raises(TimeoutError):
        await _get(net, "/ip/23.160.8.10", timeout=aiohttp.ClientTimeout(total=0.3))


async def test_lacnic_rate_limit_in_simulated_time(net: SimulatedInternet) -> None:
    statuses = []
    async with aiohttp.ClientSession() as s:
        for _ in range(11):
            async with s.get(net.rdap_url + "/lacnic/ip/177.85.100.4") as r:
                statuses.append(r.status)
                retry_after = r.headers.get("Retry-After")
        assert statuses == [200] * 10 + [429] and retry_after is not None
        net.clock.advance(61)  # a simulated minute later the window has passed
        async with s.get(net.rdap_url + "/lacnic/ip/177.85.100.4") as r:
            assert r.status == 200
    assert net.rdap.counts["lacnic:rate_limited"] == 1


async def test_rate_limits_are_configurable(world: World) -> None:
    async with SimulatedInternet(world, time_scale=0, rate_limits={"ripe": RateLimit(1, 60)}) as n:
        status1, _, _ = await _get(n, "/ip/185.61.149.7")
        status2, _, _ = await _get(n, "/ip/185.61.149.7")
        assert (status1, status2) == (200, 429)
        for _ in range(12):
            status, _, _ = await _get(n, "/ip/177.85.100.4")  # lacnic: no limit configured
            assert status == 200


async def test_counts_per_kind(net: SimulatedInternet) -> None:
    await _get(net, "/ip/23.160.8.10")
    await _get(net, "/autnum/396981")
    await _get(net, "/domain/pixelbarn.com")
    await _get(net, "/entity/NOPE")
    c = net.rdap.counts
    assert (c["ip"], c["autnum"], c["domain"], c["entity"]) == (1, 1, 1, 0)
    assert c["arin:ip"] == 1 and c["verisign:domain"] == 1
