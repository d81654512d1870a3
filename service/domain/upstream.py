"""The upstream provider of a hosting network: who is written to when the host does not act.

Pure. The resolver learns the abuse desk of the parent allocation (RDAP `links` rel="up") or,
without a distinct one, of the origin AS (RDAP autnum); `pick_upstream` chooses the address
and `add_upstream` records it on the routing decision as the last recipient, with role
"upstream". That role is never told first: the notice layer skips it, and the escalation
ladder's upstream step ranks it first (service.domain.escalation.upstream_candidates).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from service.domain.rdap_contacts import ContactFindings
from service.domain.routing import Recipient, RoutingDecision

UPSTREAM_ROLE = "upstream"
# Addresses of the registries themselves: the desk of a registry's own block (a parent link
# often ends at the RIR's /8) is not anybody's upstream provider.
REGISTRY_DOMAINS = ("arin.net", "ripe.net", "apnic.net", "lacnic.net", "afrinic.net", "iana.org")
# Contact roles that name an operator's abuse desk (not an NIR's IRT, not a fallback guess).
_DESK_ROLES = ("abuse", "abuse-mailbox")
# Recipients that are not the host itself: a route with only these is not written to directly.
_NOT_THE_HOST = {"hotline", "cc", "registrar", UPSTREAM_ROLE}


@dataclass(frozen=True)
class UpstreamContact:
    """The upstream's abuse desk and the RDAP object it was read from."""

    address: str
    source: str  # "rdap-parent" | "rdap-autnum"
    confidence: str
    via: str  # the parent's handle or "AS<n>", for the case history

    def as_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "source": self.source,
            "confidence": self.confidence,
            "via": self.via,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UpstreamContact:
        return cls(
            str(data["address"]), str(data["source"]), str(data["confidence"]), str(data["via"])
        )


def _is_registry(address: str) -> bool:
    domain = address.rpartition("@")[2].lower()
    return any(domain == d or domain.endswith("." + d) for d in REGISTRY_DOMAINS)


def pick_upstream(
    findings: ContactFindings, own: ContactFindings | None, source: str, via: str
) -> UpstreamContact | None:
    """The abuse desk of a parent or autnum object, unless it is the network's own desk.

    Only a published abuse desk counts (a role mailbox guessed from a vCard is no grounds to
    escalate to someone); the network's own addresses and registry desks are not upstream.
    """
    mine = {c.address for c in own.contacts} if own else set()
    for contact in findings.contacts:
        if contact.role not in _DESK_ROLES or contact.confidence == "low":
            continue
        if contact.address in mine or _is_registry(contact.address):
            continue
        return UpstreamContact(contact.address, source, contact.confidence, via)
    return None


def add_upstream(decision: RoutingDecision, upstream: UpstreamContact | None) -> RoutingDecision:
    """The decision with the upstream's desk as its last recipient (role "upstream").

    Left out where the host is not written to directly (do-not-contact, a country whose
    notices all go through its hotline) and where the address already is a sure recipient.
    A low-confidence entry of the same address (Abusix often lists the upstream's desk for a
    reseller's block) becomes the upstream entry instead of a first-notice fallback.
    """
    ranked = list(decision.recipients)
    if upstream is None or not any(r.role not in _NOT_THE_HOST for r in ranked):
        return decision
    same = [r for r in ranked if r.address == upstream.address]
    if any(r.confidence != "low" for r in same):
        return decision
    kept = [r for r in ranked if r.address != upstream.address]
    entry = Recipient(upstream.address, UPSTREAM_ROLE, upstream.source, upstream.confidence)
    note = (
        f"upstream provider {upstream.address} ({upstream.source}, {upstream.via}):"
        " written to only by the escalation ladder"
    )
    recipients = tuple(replace(r, rank=i + 1) for i, r in enumerate([*kept, entry]))
    return replace(decision, recipients=recipients, notes=(*decision.notes, note))
