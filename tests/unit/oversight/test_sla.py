"""Deadlines per hoster and country, and what counts as overdue (hand-computed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.domain.sla import SlaPolicy
from service.domain.states import CaseState

H = timedelta(hours=1)
NOTICE = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
POLICY = SlaPolicy(default=72 * H, by_country={"NL": 24 * H}, by_hoster={"Slow Host BV": 12 * H})


def test_default_deadline_is_72_hours_after_first_notice() -> None:
    assert POLICY.deadline(NOTICE, "US", "Acme") == datetime(2024, 3, 4, 12, 0, tzinfo=UTC)


def test_dutch_norm_is_24_hours_and_country_case_does_not_matter() -> None:
    assert POLICY.deadline(NOTICE, "nl", None) == datetime(2024, 3, 2, 12, 0, tzinfo=UTC)


def test_hoster_agreement_wins_over_country() -> None:
    assert POLICY.allowance("NL", "slow host bv") == 12 * H


def test_no_notice_no_deadline() -> None:
    assert POLICY.deadline(None, "NL", None) is None


def test_overdue_only_past_deadline_and_on_the_clock() -> None:
    late = NOTICE + 25 * H
    assert POLICY.overdue_by(CaseState.NOTIFIED, NOTICE, "NL", None, late) == H
    assert POLICY.is_overdue(CaseState.ACKNOWLEDGED, NOTICE, "NL", None, late)
    assert POLICY.is_overdue(CaseState.ESCALATED, NOTICE, "NL", None, late)
    assert not POLICY.is_overdue(CaseState.NOTIFIED, NOTICE, "NL", None, NOTICE + 24 * H)
    assert not POLICY.is_overdue(CaseState.NOTIFIED, NOTICE, "US", None, late)


def test_removed_or_held_cases_are_never_overdue() -> None:
    much_later = NOTICE + 1000 * H
    for state in (CaseState.REMOVED, CaseState.GONE_PENDING, CaseState.HELD, CaseState.RESOLVED):
        assert not POLICY.is_overdue(state, NOTICE, "NL", None, much_later)
