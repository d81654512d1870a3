"""The scanner's vocabulary: which case events are outcomes, and the scanner-facing state."""

from __future__ import annotations

from service.domain.outcomes import (
    OUTCOME_RULES,
    SCANNER_STATE,
    Outcome,
    ScannerState,
    outcome_of,
    scanner_state,
)
from service.domain.states import CaseState


def test_every_internal_state_has_a_scanner_state() -> None:
    assert set(SCANNER_STATE) == set(CaseState)


def test_a_held_case_reads_as_pending_like_one_not_yet_notified() -> None:
    assert scanner_state("held") == ScannerState.PENDING
    assert scanner_state("resolving") == scanner_state("unresolved") == ScannerState.PENDING
    assert scanner_state("escalated") == ScannerState.NOTIFIED


def test_transitions_are_outcomes_by_their_target_state() -> None:
    assert outcome_of("transition", "resolved", "notified") == Outcome.NOTIFIED
    assert outcome_of("acknowledged", "notified", "acknowledged") == Outcome.ACKNOWLEDGED
    assert outcome_of("removal", "gone_pending", "removed") == Outcome.REMOVED
    assert outcome_of("reappearance", "removed", "reappeared") == Outcome.REAPPEARED
    assert outcome_of("ack_dispute", None, None) == Outcome.DISPUTED


def test_holds_and_internal_work_are_no_outcome() -> None:
    assert outcome_of("hold", "notified", "held") is None
    assert outcome_of("hold_lifted", "held", "notified") is None
    assert outcome_of("escalation_step", None, None) is None
    assert outcome_of("transition", "notified", "escalated") is None
    assert outcome_of("transition", "gone_pending", "notified") is None
    # a removal confirmed during a hold still reaches the scanner
    assert outcome_of("removal", "held", "removed") == Outcome.REMOVED


def test_rule_priorities_are_unique() -> None:
    priorities = [r.priority for r in OUTCOME_RULES]
    assert len(priorities) == len(set(priorities))
