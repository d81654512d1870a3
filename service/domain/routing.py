"""The routing decision: from looked-up facts and hotline rules to ranked recipients.

Pure policy. The resolver gathers facts (network, RDAP contacts, second sources, CDN,
registrar, contact-book rules, partner hotlines); `decide` applies, in order:
  1. lookup contacts (RDAP ranking, Abusix agreement or fallback),
  2. a CDN in front takes the notice (it must forward to the unknown origin),
  3. the contact book wins over lookups (address, do-not-contact, via hotline, cc),
  4. the registrar when the host has no contact at all,
  5. the hosting country's policy: direct, through its hotline, or both.
Every step that changes the outcome leaves a note, so the case history explains itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from service.domain.rdap_contacts import ContactFindings
from service.domain.registrar_info import Registrar

Policy = Literal["direct", "hotline", "both", "forward"]


@dataclass(frozen=True)
class Network:
    """The hosting network as the registry describes it."""

    cidrs: tuple[str, ...]
    start: str
    end: str
    handle: str | None
    name: str | None
    country: str | None
    registry: str | None
    asn: int | None = None
    org: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "cidr": ", ".join(self.cidrs),
            "handle": self.handle,
            "name": self.name,
            "org": self.org,
            "country": self.country,
            "asn": self.asn,
            "registry": self.registry,
        }


@dataclass(frozen=True)
class Recipient:
    """One recipient of the notice, with provenance.

    Ranked recipients are alternatives: the notice goes to the best working one. A `copy`
    (contact-book CC, the hotline of a country whose policy is "both") receives every notice
    of the route as a Cc, whoever the main recipient is, and is never a fallback.
    """

    address: str
    role: str
    source: str
    confidence: str
    language: str | None = None
    rank: int = 0
    copy: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "role": self.role,
            "source": self.source,
            "confidence": self.confidence,
            "language": self.language,
            "rank": self.rank,
            "copy": self.copy,
        }


@dataclass(frozen=True)
class BookRule:
    """A hotline-curated contact-book rule that matched this case."""

    id: int
    match: str  # "domain:example.org", "cidr:203.0.113.0/24", "asn:64500", "hoster:acme"
    address: str | None = None
    language: str | None = None
    do_not_contact: bool = False
    via_hotline: str | None = None
    cc: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hotline:
    """A partner hotline of a country and the routing policy for that country."""

    country: str
    name: str
    address: str | None
    language: str | None
    policy: Policy = "direct"

    def as_json(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "name": self.name,
            "address": self.address,
            "language": self.language,
            "policy": self.policy,
        }


@dataclass(frozen=True)
class Cdn:
    """A CDN or reverse proxy in front of the real host."""

    name: str
    abuse: str | None
    detected_by: str

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "abuse": self.abuse,
            "detected_by": self.detected_by,
            "origin_known": False,
            "note": "the CDN must forward the notice to the origin host; origin unknown",
        }


@dataclass(frozen=True)
class RoutingFacts:
    """Everything the resolver learned about one URL."""

    ips: tuple[str, ...]
    network: Network | None
    findings: ContactFindings | None
    abusix: tuple[str, ...] = ()
    cdn: Cdn | None = None
    registrar: Registrar | None = None
    rules: tuple[BookRule, ...] = ()
    hotlines: dict[str, Hotline] = field(default_factory=dict)
    country: str | None = None
    no_host_reason: str | None = None


@dataclass(frozen=True)
class RoutingDecision:
    """Who gets the notice, and why (the case_routes row plus notes for the event)."""

    recipients: tuple[Recipient, ...]
    no_contact_reason: str | None
    notes: tuple[str, ...]
    cdn: Cdn | None
    hotline: Hotline | None
    country: str | None

    @property
    def resolved(self) -> bool:
        return self.no_contact_reason is None
