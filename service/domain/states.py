"""Case states (mirrors the Postgres enum `case_state`) and the transitions allowed between them."""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    RECEIVED = "received"
    RESOLVING = "resolving"
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    HELD = "held"
    NOTIFIED = "notified"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    GONE_PENDING = "gone_pending"
    REMOVED = "removed"
    REAPPEARED = "reappeared"
    # Taken back: a confirmed dispute or a withdrawn hash. Terminal.
    WITHDRAWN = "withdrawn"
    # The case was handed to a partner hotline's own instance (country policy 'forward').
    FORWARDED = "forwarded"


S = CaseState

# States in which the content is believed to be served and a hoster is on the clock.
OPEN_NOTICE_STATES = frozenset({S.NOTIFIED, S.ACKNOWLEDGED, S.ESCALATED, S.REAPPEARED})
# States from which an analyst may send a case through resolution again (or route it by hand).
RE_RESOLVABLE = frozenset({S.UNRESOLVED, S.RESOLVED, S.NOTIFIED, S.ACKNOWLEDGED, S.ESCALATED})

ALLOWED_TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    S.RECEIVED: frozenset({S.RESOLVING, S.HELD, S.GONE_PENDING}),
    S.RESOLVING: frozenset({S.RESOLVED, S.UNRESOLVED, S.RECEIVED, S.HELD}),
    S.RESOLVED: frozenset(
        {S.NOTIFIED, S.HELD, S.UNRESOLVED, S.GONE_PENDING, S.RESOLVING, S.FORWARDED}
    ),
    S.UNRESOLVED: frozenset({S.RESOLVING, S.RESOLVED, S.HELD, S.GONE_PENDING}),
    # → a notice state: a hold placed after the notice went out is lifted back to where the
    # case stood (its hoster was told already; a second "first" notice would only confuse).
    S.HELD: frozenset({S.RECEIVED, S.RESOLVED, S.GONE_PENDING, S.REMOVED, *OPEN_NOTICE_STATES}),
    # → RESOLVING from the notice states: an analyst re-resolves a case whose hoster answered
    # "not ours" (e.g. after adding a contact-book rule); the new route gets a new notice.
    S.NOTIFIED: frozenset({S.ACKNOWLEDGED, S.ESCALATED, S.GONE_PENDING, S.HELD, S.RESOLVING}),
    S.ACKNOWLEDGED: frozenset({S.ESCALATED, S.GONE_PENDING, S.HELD, S.RESOLVING}),
    S.ESCALATED: frozenset({S.ACKNOWLEDGED, S.GONE_PENDING, S.HELD, S.RESOLVING}),
    S.GONE_PENDING: frozenset(
        {S.REMOVED, S.NOTIFIED, S.ACKNOWLEDGED, S.ESCALATED, S.REAPPEARED, S.RESOLVED, S.HELD}
    ),
    # → FORWARDED: the partner hotline that handles the case saw the content again.
    S.REMOVED: frozenset({S.REAPPEARED, S.FORWARDED}),
    S.REAPPEARED: frozenset({S.NOTIFIED, S.GONE_PENDING, S.ACKNOWLEDGED, S.ESCALATED, S.HELD}),
    # The partner's outcomes, mirrored; a partner unreachable for too long: back to our mail.
    S.FORWARDED: frozenset({S.ACKNOWLEDGED, S.GONE_PENDING, S.REMOVED, S.RESOLVED, S.HELD}),
    S.WITHDRAWN: frozenset(),
}
# Every state but the terminal one may be withdrawn (a removed case too: its watch ends).
WITHDRAWABLE = frozenset(s for s in CaseState if s is not S.WITHDRAWN)
for _state in WITHDRAWABLE:
    ALLOWED_TRANSITIONS[_state] = ALLOWED_TRANSITIONS[_state] | {S.WITHDRAWN}


class IllegalTransition(ValueError):
    """A state change the lifecycle does not allow."""

    def __init__(self, current: CaseState, target: CaseState) -> None:
        super().__init__(f"a case cannot go from {current} to {target}")
        self.current = current
        self.target = target


def check_transition(current: CaseState, target: CaseState) -> None:
    """Raise IllegalTransition unless current → target is part of the lifecycle."""
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransition(current, target)
