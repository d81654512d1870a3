"""Every recorded RDAP response of ../shared/rdap-corpus/ gives the expected recipient.

Resolved end to end against the loopback peers: IP-literal URLs (no DNS for the host),
Team Cymru over the simulated DNS, RDAP through the simulated bootstrap redirector.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from service.domain.rdap_contacts import extract_contacts
from service.resolve.network import complete_entities, parse_network
from service.resolve.registrar import RegistrarLookup
from service.resolve.resolver import Resolver
from tests.integration.resolve.conftest import CORPUS

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared RDAP corpus absent")


def _expected() -> dict[str, Any]:
    if not CORPUS.is_dir():
        return {}
    data: dict[str, Any] = json.loads((CORPUS / "expected.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _of_kind(kind: str) -> list[str]:
    return sorted(name for name, e in _expected().items() if e["kind"] == kind)


def _address_in(name: str) -> str:
    doc = json.loads((CORPUS / name).read_text())
    start = str(doc["startAddress"]).split("/")[0]
    if ":" not in start:
        start = ".".join(str(int(p)) for p in start.split("."))  # zero-padded old ARIN
    return ipaddress.ip_address(start).compressed


def _check(expect: dict[str, Any], preferred: str | None, addresses: list[str]) -> None:
    assert preferred == expect["preferred"]
    must_not = {a.lower() for a in expect.get("must_not", [])}
    assert not must_not & set(addresses), "an address that must never be notified was offered"
    assert set(addresses) <= set(expect["acceptable"]), "an indefensible recipient was offered"


@pytest.mark.parametrize("name", _of_kind("ip"))
async def test_recorded_network_gives_the_preferred_address(resolver: Resolver, name: str) -> None:
    expect = _expected()[name]
    doc = json.loads((CORPUS / name).read_text())
    await complete_entities(resolver.rdap, doc)  # self links point at the loopback server
    record = parse_network(doc, _address_in(name), None)
    _check(expect, record.findings.preferred, [c.address for c in record.findings.contacts])
    if "network" in expect:
        assert expect["network"] in record.network.cidrs


@pytest.mark.parametrize("name", _of_kind("ip"))
async def test_url_on_a_recorded_network_routes_to_an_acceptable_desk(
    resolver: Resolver, name: str
) -> None:
    # Two recordings cover 2001:4860::/32, so the served one may be the other: hence
    # "acceptable" here and "preferred" on the file itself above.
    expect = _expected()[name]
    twins = [
        e
        for e in _expected().values()
        if expect.get("network") and e.get("network") == expect["network"]
    ]
    acceptable = {a for e in twins or [expect] for a in e["acceptable"]}
    result = await resolver.resolve(f"http://{_bracket(_address_in(name))}/img/1.jpg")
    route = result.route
    addresses = [r["address"] for r in route["recipients"] if r["role"] != "hotline"]
    sure = [r["address"] for r in route["recipients"] if r["confidence"] != "low"]
    must_not = {a.lower() for a in expect.get("must_not", [])}
    assert not must_not & set(addresses)
    assert set(addresses) <= acceptable
    assert (sure[0] if sure else None) in {expect["preferred"], *acceptable}
    assert bool(sure) == (expect["preferred"] is not None)
    if expect.get("no_abuse_role"):
        assert result.detail["no_abuse_role"] is True
        assert "no abuse contact" in (route["no_contact_reason"] or "")
    if "network" in expect:
        assert expect["network"] in route["network"]["cidr"]


@pytest.mark.parametrize("name", _of_kind("autnum"))
async def test_autnum_answer_names_the_expected_desk(resolver: Resolver, name: str) -> None:
    expect = _expected()[name]
    asn = json.loads((CORPUS / name).read_text())["startAutnum"]
    doc = await resolver.rdap.get(f"{resolver.rdap.bootstrap.redirector}/autnum/{asn}")
    assert doc is not None
    findings = extract_contacts(doc)
    _check(expect, findings.preferred, [c.address for c in findings.contacts])
    if expect.get("cdn"):
        assert resolver.cdns.detect("192.0.2.1", asn, [doc.get("name")]) is not None


@pytest.mark.parametrize("name", _of_kind("domain"))
async def test_domain_answer_gives_the_registrar_abuse_desk(resolver: Resolver, name: str) -> None:
    expect = _expected()[name]
    domain = json.loads((CORPUS / name).read_text())["ldhName"].lower()
    lookup: RegistrarLookup = resolver.registrars
    registrar = await lookup.for_host(f"www.{domain}")
    assert registrar is not None
    if expect["registrar_abuse"]:
        assert registrar.abuse == expect["registrar_abuse"]
        assert registrar.iana_id == expect["registrar_iana_id"]
        assert registrar.confidence == "high"
    else:
        assert registrar.abuse in expect["acceptable"]
        assert registrar.confidence == "low"


def _bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip
