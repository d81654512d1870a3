"""Scorecards with Kaplan–Meier: open items count (hand-computed estimates)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from service.domain.scorecard import (
    CaseTimes,
    curve_points,
    removals_per_day,
    scorecard,
    scorecards,
)

H = timedelta(hours=1)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
NOW = T0 + 50 * H


def case(gone_after: float | None, group: str = "Acme", reappeared: bool = False) -> CaseTimes:
    gone = T0 + gone_after * H if gone_after is not None else None
    return CaseTimes(group, T0, gone, reappeared)


# removed after 10 h, 20 h, 40 h; still online after 30 h (notified later) and 50 h
FIVE = [
    case(10),
    case(20, reappeared=True),
    CaseTimes("Acme", T0 + 20 * H, None),  # open, censored at 30 h
    case(40),
    case(None),  # open, censored at 50 h
]


def test_kaplan_meier_median_and_shares_by_hand() -> None:
    # S(10h)=4/5=0.8, S(20h)=0.8·3/4=0.6, 30h censored, S(40h)=0.6·1/2=0.3
    card = scorecard("Acme", FIVE, NOW)
    assert (card.items, card.removed, card.open) == (5, 3, 2)
    assert card.median == 40 * H  # the naive median of removed items alone would say 20 h
    assert card.p90 is None  # S never falls to 0.1
    assert abs(card.within_24h - 0.4) < 1e-9
    assert abs(card.within_72h - 0.7) < 1e-9
    assert abs(card.recidivism - 1 / 3) < 1e-9


def test_share_open_beyond_42_days() -> None:
    now = T0 + timedelta(days=43)
    card = scorecard("Slow", [case(None, "Slow"), case(1, "Slow")], now)
    assert card.open_beyond_42d == 0.5


def test_slowest_group_first_and_never_removing_is_slowest() -> None:
    cards = scorecards([case(1, "Fast"), case(30, "Mid"), case(None, "Never")], NOW)
    assert [c.group for c in cards] == ["Never", "Mid", "Fast"]


def test_curve_starts_at_one_and_steps_down() -> None:
    points = curve_points(FIVE, NOW)
    # the last point is the longest observation (censored at 50 h): the curve stays at 0.3
    assert [t for t, _ in points] == [timedelta(0), 10 * H, 20 * H, 40 * H, 50 * H]
    assert [s for _, s in points] == pytest.approx([1.0, 0.8, 0.6, 0.3, 0.3])


def test_curve_of_a_hoster_that_never_removes_is_flat() -> None:
    assert curve_points([case(None)], NOW) == [(timedelta(0), 1.0), (50 * H, 1.0)]


def test_removals_per_day_fill_gaps() -> None:
    days = removals_per_day([case(1), case(2), case(49)])
    assert days == [(date(2024, 1, 1), 2), (date(2024, 1, 2), 0), (date(2024, 1, 3), 1)]
