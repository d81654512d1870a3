"""The upstream provider of a hosting network: who is written to when the host does not act.

Pure. Looked up when a case's escalation ladder reaches its upstream step, not during
resolution: the desk of the parent allocation (RDAP `links` rel="up") or, without a distinct
one, of the origin AS (RDAP autnum). `pick_upstream` chooses the address and `place_upstream`
records it as the route's last recipient, with role "upstream". That role is never told first:
the notice layer skips it, and the ladder's upstream step ranks it first
(service.domain.escalation.upstream_candidates). `ladder_upstream` says whether the step may
go on, must ask for the lookup, or waits for it; `case_routes.upstream_lookup` holds the
lookup's state (the `lookup_*` records below).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

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
# How long the ladder waits for a requested lookup: well past the lookup job's own retries
# (it records a failure after TAKEDOWN_RESOLVE_PARTIAL_AFTER_ATTEMPTS), so this only ends a
# wait nobody answers (no worker runs the 'upstream' stage).
LOOKUP_PATIENCE = timedelta(hours=1)


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
    """The decision with the upstream's desk as its last recipient (role "upstream")."""
    recipients = place_upstream(decision.recipients, upstream)
    if recipients == decision.recipients or upstream is None:
        return decision
    return replace(decision, recipients=recipients, notes=(*decision.notes, _note(upstream)))


def place_upstream(
    recipients: Sequence[Recipient], upstream: UpstreamContact | None
) -> tuple[Recipient, ...]:
    """The recipients with the upstream's desk last (role "upstream"), ranks renumbered.

    Left out where the host is not written to directly (do-not-contact, a country whose
    notices all go through its hotline) and where the address already is a sure recipient.
    A low-confidence entry of the same address (Abusix often lists the upstream's desk for a
    reseller's block) becomes the upstream entry instead of a first-notice fallback.
    """
    ranked = tuple(recipients)
    if upstream is None or not writes_to_the_host(r.role for r in ranked):
        return ranked
    same = [r for r in ranked if r.address == upstream.address]
    if any(r.confidence != "low" for r in same):
        return ranked
    kept = [r for r in ranked if r.address != upstream.address]
    entry = Recipient(upstream.address, UPSTREAM_ROLE, upstream.source, upstream.confidence)
    return tuple(replace(r, rank=i + 1) for i, r in enumerate([*kept, entry]))


def _note(upstream: UpstreamContact) -> str:
    return (
        f"upstream provider {upstream.address} ({upstream.source}, {upstream.via}):"
        " written to only by the escalation ladder"
    )


def writes_to_the_host(roles: Iterable[str]) -> bool:
    """Whether a route writes to the hosting network itself (only then has it an upstream)."""
    return any(role not in _NOT_THE_HOST for role in roles)


def route_recipients_with(
    raw: Sequence[Mapping[str, Any]], upstream: UpstreamContact | None
) -> list[dict[str, Any]]:
    """`place_upstream` over a stored route's recipients (`case_routes.recipients`)."""
    placed = place_upstream([_stored(entry, i) for i, entry in enumerate(raw)], upstream)
    return [r.as_json() for r in placed]


def _stored(entry: Mapping[str, Any], position: int) -> Recipient:
    """A stored recipient as it is (not cleaned up as a notice's recipients are)."""
    rank = entry.get("rank")
    return Recipient(
        address=str(entry.get("address") or ""),
        role=str(entry.get("role") or "abuse"),
        source=str(entry.get("source") or ""),
        confidence=str(entry.get("confidence") or "low"),
        language=entry.get("language") or None,
        rank=rank if isinstance(rank, int) else position + 1,
        copy=bool(entry.get("copy")),
    )


# --- the lookup's state on the route (case_routes.upstream_lookup) ------------------------


def lookup_requested(now: datetime) -> dict[str, Any]:
    return {"state": "requested", "requested_at": now.isoformat()}


def lookup_found(upstream: UpstreamContact, answered_from: str) -> dict[str, Any]:
    """`answered_from`: "cache" (the network's record knew it) or "rdap" (queried now)."""
    return {"state": "found", **upstream.as_json(), "answered_from": answered_from}


def lookup_not_found(reason: str) -> dict[str, Any]:
    return {"state": "none", "reason": reason}


def lookup_failed(reason: str) -> dict[str, Any]:
    return {"state": "failed", "reason": reason}


@dataclass(frozen=True)
class UpstreamReadiness:
    """Whether the ladder's upstream step can be taken now.

    "go": take it (`note` says what the lookup came to, for a skipped step's reason);
    "request": ask for the lookup, then wait; "wait": a lookup is under way, look again by
    `until` (its answer makes the case due earlier).
    """

    action: Literal["go", "request", "wait"]
    until: datetime | None = None
    note: str | None = None


def ladder_upstream(
    recipients: Sequence[Mapping[str, Any]],
    has_address: bool,
    lookup: Mapping[str, Any] | None,
    now: datetime,
) -> UpstreamReadiness:
    """Whether the upstream step goes on, asks for the lookup or waits for it.

    A route that already has its upstream, that writes to nobody at the host (a hotline-only
    country, do-not-contact), or that has no address to look up goes on at once, as does one
    whose lookup settled or was waited for `LOOKUP_PATIENCE` in vain.
    """
    roles = [str(r.get("role", "")) for r in recipients]
    if UPSTREAM_ROLE in roles or not has_address or not writes_to_the_host(roles):
        return UpstreamReadiness("go")
    if lookup is None:
        return UpstreamReadiness("request", until=now + LOOKUP_PATIENCE)
    if lookup.get("state") != "requested":
        reason = lookup.get("reason")
        return UpstreamReadiness("go", note=f"upstream lookup: {reason}" if reason else None)
    until = datetime.fromisoformat(str(lookup["requested_at"])) + LOOKUP_PATIENCE
    if now < until:
        return UpstreamReadiness("wait", until=until)
    hours = LOOKUP_PATIENCE.total_seconds() / 3600
    return UpstreamReadiness("go", note=f"upstream lookup: no answer within {hours:g} h")
