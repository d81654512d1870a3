"""Mirroring a partner hotline's outcomes into our forwarded case (pure rules).

A case hosted in a country whose policy is 'forward' is handed to that country's hotline's
own instance; its outcomes come back through the partner's feed with the partner's times. The
clock columns take those times, so time to removal stays data on both sides; the state moves
only where the partner's outcome closes or reopens the case.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.states import CaseState

S = CaseState


@dataclass(frozen=True)
class Mirror:
    """What one partner outcome does to our case: an event of kind `event`, the clock column
    `stamp` set to the partner's time, and a move to `to_state` when the case is in `when`."""

    event: str
    stamp: str | None = None
    to_state: CaseState | None = None
    when: frozenset[CaseState] = frozenset()


MIRRORS: dict[str, Mirror] = {
    "notified": Mirror("partner_notified", "first_notice_at"),
    "acknowledged": Mirror("partner_acknowledged", "acknowledged_at"),
    "removed": Mirror("partner_removed", "first_gone_at", S.REMOVED, frozenset({S.FORWARDED})),
    "reappeared": Mirror(
        "partner_reappeared", "reappeared_at", S.FORWARDED, frozenset({S.REMOVED})
    ),
    "disputed": Mirror("partner_disputed"),
    "withdrawn": Mirror("partner_withdrawn", None, S.WITHDRAWN),
}


def mirror_of(outcome: str) -> Mirror | None:
    """How a partner's outcome is mirrored; None for one this version does not know."""
    return MIRRORS.get(outcome)


def accepted_case_id(answer: object) -> int | None:
    """The partner's case id from its intake answer to our one report, if it took it."""
    if not isinstance(answer, dict):
        return None
    results = answer.get("results")
    if not isinstance(results, list) or len(results) != 1 or not isinstance(results[0], dict):
        return None
    result = results[0]
    case_id = result.get("case_id")
    if result.get("status") in ("created", "duplicate", "reopened") and isinstance(case_id, int):
        return case_id
    return None


def refusal_of(answer: object) -> str | None:
    """Why the partner's intake refused our report (it answered, but did not take it)."""
    if not isinstance(answer, dict):
        return None
    results = answer.get("results")
    if isinstance(results, list) and results and isinstance(results[0], dict):
        problem = results[0].get("problem")
        if results[0].get("status") == "rejected" and isinstance(problem, dict):
            return str(problem.get("detail") or problem.get("title") or "rejected")[:500]
    return None
