"""What the resolver learned for a URL (`Lookups`) and how its decision is recorded
(`Resolution`: the case_routes row and the event detail, i.e. the provenance)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.domain.registrar_info import Registrar
from service.domain.routing import Network, RoutingDecision, RoutingFacts
from service.domain.upstream import UpstreamContact
from service.resolve.cymru import Origin
from service.resolve.dns import HostAddresses
from service.resolve.network import NetworkRecord


@dataclass
class Lookups:
    """What was learned for one URL, and which second sources failed."""

    url: str
    host: str
    addresses: HostAddresses | None = None
    origin: Origin | None = None
    record: NetworkRecord | None = None
    rdap_source: str = "none"
    upstream: UpstreamContact | None = None
    abusix: tuple[str, ...] = ()
    registrar: Registrar | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    others: list[OtherNetwork] = field(default_factory=list)


@dataclass
class OtherNetwork:
    """Addresses of the host in another network than the one the routing follows (another
    origin AS): round-robin across providers, IPv4 at one host and IPv6 at another."""

    ips: list[str]
    origin: Origin
    record: NetworkRecord | None
    abusix: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolution:
    """The decision and the case_routes row and event detail that record it."""

    decision: RoutingDecision
    route: dict[str, Any]
    detail: dict[str, Any]


def build_resolution(found: Lookups, facts: RoutingFacts, decision: RoutingDecision) -> Resolution:
    return Resolution(decision, route_row(found, facts, decision), detail(found, facts, decision))


def route_row(found: Lookups, facts: RoutingFacts, decision: RoutingDecision) -> dict[str, Any]:
    network = facts.network
    origin = found.origin
    hoster = (network.org or network.name) if network else None
    return {
        "ip_addresses": list(facts.ips),
        "network": network.as_json() if network else None,
        "hoster": hoster or (origin.as_name if origin else None),
        "asn": origin.asn if origin else None,
        "country": decision.country,
        "cdn": decision.cdn.as_json() if decision.cdn else None,
        "registrar": facts.registrar.as_json() if facts.registrar else None,
        "hotline": decision.hotline.as_json() if decision.hotline else None,
        "recipients": [r.as_json() for r in decision.recipients],
        "no_contact_reason": decision.no_contact_reason,
    }


def detail(found: Lookups, facts: RoutingFacts, decision: RoutingDecision) -> dict[str, Any]:
    """Everything the decision rests on, for the case's event history."""
    addresses = found.addresses
    findings = facts.findings
    return {
        "url": found.url,
        "host": found.host,
        "cnames": list(addresses.cnames) if addresses else [],
        "addresses": list(facts.ips),
        "network": facts.network.as_json() if facts.network else None,
        "rdap_source": found.rdap_source,
        "upstream": found.upstream.as_json() if found.upstream else None,
        "rdap_contacts": [vars(c) for c in findings.contacts] if findings else [],
        "no_abuse_role": findings.no_abuse_role if findings else None,
        "cymru": found.origin.as_json() if found.origin else None,
        "abusix": list(found.abusix),
        "registrar": facts.registrar.as_json() if facts.registrar else None,
        "cdn": decision.cdn.as_json() if decision.cdn else None,
        "contact_rules": [{"id": r.id, "match": r.match} for r in facts.rules],
        "hotline": decision.hotline.as_json() if decision.hotline else None,
        "recipients": [r.as_json() for r in decision.recipients],
        "no_contact_reason": decision.no_contact_reason,
        "notes": [*found.notes, *decision.notes],
        "failed_sources": list(found.failures),
    }


def other_route(
    other: OtherNetwork, network: Network | None, decision: RoutingDecision
) -> dict[str, Any]:
    """The case_address_routes row of another network (also the event's detail)."""
    hoster = (network.org or network.name) if network else None
    return {
        "ip_addresses": list(other.ips),
        "network": network.as_json() if network else None,
        "hoster": hoster or other.origin.as_name,
        "asn": other.origin.asn,
        "country": decision.country,
        "recipients": [r.as_json() for r in decision.recipients],
        "no_contact_reason": decision.no_contact_reason,
    }
