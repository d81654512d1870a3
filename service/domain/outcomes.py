"""What a scanner may learn about its cases: outcomes and a scanner-facing state.

A scanner reported the URL; it is owed the outcome (was the hoster told, did it answer, is the
content gone, did it come back, was the match disputed or withdrawn) with its time, and nothing
of the hotline's internal work: no event details, actor names, hold reasons, analysts' notes
or hosters' free text. A law-enforcement hold must not be visible at all, so a held case reads
as `pending`, like a case that is still being routed.

`OUTCOME_RULES` says which case event is which outcome. The same rules are rows of the table
`scanner_outcome_rules` (migration 0140), which the trigger that records outcomes reads; a test
checks the two agree. A new event kind or state that is an outcome gets a rule here *and* an
INSERT into that table in its own migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.domain.states import CaseState


class Outcome(StrEnum):
    """The changes a scanner is told about (feed items and webhook events)."""

    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    REMOVED = "removed"
    REAPPEARED = "reappeared"
    DISPUTED = "disputed"
    WITHDRAWN = "withdrawn"


class ScannerState(StrEnum):
    """A case's state as a scanner sees it."""

    PENDING = "pending"  # not yet notified: received, being routed, no contact known, or held
    NOTIFIED = "notified"  # a notice went out (escalations are the hotline's business)
    ACKNOWLEDGED = "acknowledged"
    GONE_PENDING = "gone_pending"  # the content was seen gone; removal not yet confirmed
    REMOVED = "removed"
    REAPPEARED = "reappeared"
    WITHDRAWN = "withdrawn"  # a false positive: the case stopped for good


S = CaseState
P = ScannerState

# Every internal state maps to exactly one scanner state (a test checks that every CaseState
# is listed, so a new state cannot leak under its internal name).
SCANNER_STATE: dict[str, ScannerState] = {
    S.RECEIVED: P.PENDING,
    S.RESOLVING: P.PENDING,
    S.RESOLVED: P.PENDING,
    S.UNRESOLVED: P.PENDING,
    S.HELD: P.PENDING,
    S.NOTIFIED: P.NOTIFIED,
    S.ESCALATED: P.NOTIFIED,
    S.ACKNOWLEDGED: P.ACKNOWLEDGED,
    S.GONE_PENDING: P.GONE_PENDING,
    S.REMOVED: P.REMOVED,
    S.REAPPEARED: P.REAPPEARED,
    # Handed to a partner hotline that notifies the hoster: to the scanner, the case is out.
    S.FORWARDED: P.NOTIFIED,
    S.WITHDRAWN: P.WITHDRAWN,
}


def scanner_state(state: str) -> ScannerState:
    """The scanner-facing state of an internal one; unknown states read as pending."""
    return SCANNER_STATE.get(state, P.PENDING)


@dataclass(frozen=True)
class OutcomeRule:
    """One row of the outcome rules. A case event matches when each of `kind`, `from_state`,
    `to_state` is None or equal to the event's; the matching rule with the lowest `priority`
    decides, and `outcome` None means "no outcome" (a suppressing rule). `reason_key` names
    the event detail field passed on as the outcome's reason (a fixed vocabulary only, never
    free text)."""

    priority: int
    outcome: Outcome | None
    kind: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    reason_key: str | None = None


OUTCOME_RULES: tuple[OutcomeRule, ...] = (
    # A removal confirmed while the case was held is still a removal.
    OutcomeRule(10, Outcome.REMOVED, from_state=S.HELD, to_state=S.REMOVED),
    # Lifting a hold returns the case to where it stood: nothing new for the scanner.
    OutcomeRule(20, None, from_state=S.HELD),
    # Content seen again before its removal was confirmed: the same notice still runs.
    OutcomeRule(30, None, from_state=S.GONE_PENDING, to_state=S.NOTIFIED),
    OutcomeRule(31, None, from_state=S.GONE_PENDING, to_state=S.ACKNOWLEDGED),
    OutcomeRule(32, None, from_state=S.GONE_PENDING, to_state=S.ESCALATED),
    OutcomeRule(100, Outcome.NOTIFIED, to_state=S.NOTIFIED),
    OutcomeRule(110, Outcome.ACKNOWLEDGED, to_state=S.ACKNOWLEDGED),
    OutcomeRule(120, Outcome.REMOVED, to_state=S.REMOVED),
    OutcomeRule(130, Outcome.REAPPEARED, to_state=S.REAPPEARED),
    # The hoster's dispute answer; its reason is a fixed choice (lawful_content, wrong_match).
    OutcomeRule(140, Outcome.DISPUTED, kind="ack_dispute", reason_key="dispute_reason"),
    # Handed to a partner hotline's instance (policy 'forward'): the notice is on its way.
    OutcomeRule(105, Outcome.NOTIFIED, to_state=S.FORWARDED),
    # A partner hotline's outcomes mirrored into a forwarded case (migration 0146).
    OutcomeRule(104, Outcome.REAPPEARED, kind="partner_reappeared"),
    OutcomeRule(111, Outcome.ACKNOWLEDGED, kind="partner_acknowledged"),
    OutcomeRule(141, Outcome.DISPUTED, kind="partner_disputed", reason_key="dispute_reason"),
    # Taken back; the reason is why (dispute_confirmed, hash_withdrawn, scanner_withdrawn),
    # never the free text.
    OutcomeRule(150, Outcome.WITHDRAWN, to_state=S.WITHDRAWN, reason_key="withdrawal"),
)


def outcome_rule_of(kind: str, from_state: str | None, to_state: str | None) -> OutcomeRule | None:
    """The rule deciding an event, or None when no rule matches."""
    for rule in sorted(OUTCOME_RULES, key=lambda r: r.priority):
        if (
            rule.kind in (None, kind)
            and rule.from_state in (None, from_state)
            and rule.to_state in (None, to_state)
        ):
            return rule
    return None


def outcome_of(kind: str, from_state: str | None, to_state: str | None) -> Outcome | None:
    """The outcome a case event means to the reporting scanner, if any."""
    rule = outcome_rule_of(kind, from_state, to_state)
    return rule.outcome if rule else None
