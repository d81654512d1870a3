"""`decide`: the ordered policy that turns RoutingFacts into a RoutingDecision (pure)."""

from __future__ import annotations

from dataclasses import replace

from service.domain.routing import (
    BookRule,
    Hotline,
    Recipient,
    RoutingDecision,
    RoutingFacts,
)


def lookup_recipients(facts: RoutingFacts, notes: list[str]) -> list[Recipient]:
    """RDAP contacts, checked against Abusix; Abusix alone only when RDAP has nothing sure."""
    found = facts.findings
    recipients = [
        Recipient(c.address, c.role, c.source, c.confidence)
        for c in (found.contacts if found else ())
    ]
    if found:
        notes.extend(found.notes)
    sure = {r.address for r in recipients if r.confidence != "low"}
    abusix = [a for a in facts.abusix if a]
    if abusix and sure & set(abusix):
        notes.append("abusix agrees with rdap: " + ", ".join(sorted(sure & set(abusix))))
    elif abusix and sure:
        notes.append("abusix disagrees with rdap (abusix: " + ", ".join(abusix) + ")")
    extra_confidence = "low" if sure else "medium"
    known = {r.address for r in recipients}
    extra = [Recipient(a, "abuse", "abusix", extra_confidence) for a in abusix if a not in known]
    if not sure and extra:
        return extra + recipients  # a second source beats registry guesses
    return recipients + extra


def apply_cdn(
    facts: RoutingFacts, recipients: list[Recipient], notes: list[str]
) -> list[Recipient]:
    if facts.cdn is None:
        return recipients
    notes.append(f"{facts.cdn.name} is a CDN in front of the host: it must forward to the origin")
    if facts.cdn.abuse and facts.cdn.abuse not in {r.address for r in recipients}:
        source = f"cdn:{facts.cdn.detected_by}"
        return [Recipient(facts.cdn.abuse, "cdn-abuse", source, "high"), *recipients]
    return recipients


def apply_rule(rule: BookRule, recipients: list[Recipient], notes: list[str]) -> list[Recipient]:
    source = f"contact-book:{rule.id} ({rule.match})"
    if rule.do_not_contact:
        notes.append(f"contact book rule {rule.id}: do not contact the host directly")
        recipients = []
    elif rule.address:
        notes.append(f"contact book rule {rule.id} overrides lookups ({rule.match})")
        recipients = [Recipient(rule.address, "abuse", source, "high", rule.language)]
    # Extra CCs get every notice of the route as a copy; they are never a fallback.
    recipients += [Recipient(a, "cc", source, "high", rule.language, copy=True) for a in rule.cc]
    return recipients


def _sure(recipients: list[Recipient]) -> bool:
    """Whether a ranked (not copied) recipient is more than a low-confidence guess."""
    return any(r.confidence != "low" and not r.copy for r in recipients)


def apply_registrar(
    facts: RoutingFacts, recipients: list[Recipient], notes: list[str]
) -> list[Recipient]:
    reg = facts.registrar
    if _sure(recipients) or reg is None or not reg.abuse:
        return recipients
    notes.append("no hosting contact: the registrar is asked instead")
    confidence = "medium" if reg.confidence == "high" else "low"
    return [*recipients, Recipient(reg.abuse, "registrar", "rdap:domain registrar", confidence)]


def pick_hotline(facts: RoutingFacts, rule: BookRule | None) -> Hotline | None:
    via = rule.via_hotline if rule else None
    if via:
        hotline = facts.hotlines.get(via)
        return replace(hotline, policy="hotline") if hotline else None
    return facts.hotlines.get(facts.country) if facts.country else None


def apply_jurisdiction(
    hotline: Hotline | None, recipients: list[Recipient], notes: list[str]
) -> list[Recipient]:
    """The hosting country's policy: direct, through its hotline, or both (the hotline copied).

    Under "direct", a hotline is only the fallback behind low-confidence guesses.
    """
    if hotline is not None and hotline.policy == "forward":
        # The outbox hands the case to the partner's own instance; these recipients are the
        # mail it falls back to when that instance stays unreachable (as under "direct").
        notes.append(f"{hotline.country} policy: the case goes to {hotline.name}'s instance")
    if hotline is None or not hotline.address:
        return recipients
    entry = Recipient(
        hotline.address, "hotline", f"jurisdiction:{hotline.country}", "high", hotline.language
    )
    ranked = [r for r in recipients if not r.copy]
    if hotline.policy == "hotline":
        notes.append(f"{hotline.country} policy: notices go through {hotline.name}")
        if len(ranked) < len(recipients):
            notes.append("contact book CC not used: the host is not written to directly")
        return [entry]
    if hotline.policy == "both" and ranked:
        notes.append(
            f"{hotline.name} ({hotline.country}) receives a copy (Cc) of every notice"
            " (country policy: both)"
        )
        return [*recipients, replace(entry, copy=True)]
    if hotline.policy == "both":
        notes.append(f"{hotline.country} policy: no hosting contact, notices go to {hotline.name}")
        return [entry, *recipients]
    if not _sure(recipients):
        notes.append(
            f"{hotline.name} ({hotline.country}) is the fallback if the host's contacts fail"
        )
        return [*recipients, entry]
    return recipients


def _reason(
    facts: RoutingFacts, rule: BookRule | None, recipients: tuple[Recipient, ...]
) -> str | None:
    # A contact-book CC alone is nobody to act; a hotline copied under "both" is.
    if any(r.confidence != "low" and (not r.copy or r.role == "hotline") for r in recipients):
        return None
    if rule is not None and rule.do_not_contact:
        return "contact book: do not contact, and no hotline to route through"
    if facts.network is None:
        return "no registry record for the hosting address"
    if recipients:
        return "no abuse contact published; only low-confidence fallbacks (analyst to choose)"
    return "no contact published for the hosting network"


def decide(facts: RoutingFacts) -> RoutingDecision:
    """Apply the routing policy in order (see service.domain.routing)."""
    if facts.no_host_reason is not None:  # NXDOMAIN and the like: nobody to notify
        return RoutingDecision((), facts.no_host_reason, (), None, None, facts.country)
    notes: list[str] = []
    recipients = apply_cdn(facts, lookup_recipients(facts, notes), notes)
    rule = facts.rules[0] if facts.rules else None  # the most specific rule wins
    if rule is not None:
        recipients = apply_rule(rule, recipients, notes)
    if rule is None or not rule.do_not_contact:
        recipients = apply_registrar(facts, recipients, notes)
    hotline = pick_hotline(facts, rule)
    recipients = apply_jurisdiction(hotline, recipients, notes)
    ranked = tuple(replace(r, rank=i + 1) for i, r in enumerate(_dedupe(recipients)))
    return RoutingDecision(
        ranked, _reason(facts, rule, ranked), tuple(notes), facts.cdn, hotline, facts.country
    )


def _dedupe(recipients: list[Recipient]) -> list[Recipient]:
    seen: set[str] = set()
    out = []
    for r in recipients:
        if r.address not in seen:
            seen.add(r.address)
            out.append(r)
    return out
