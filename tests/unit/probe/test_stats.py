"""Kaplan–Meier against values computed by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.domain.stats import Duration, quantile, summarise, survival_at, survival_curve

H = timedelta(hours=1)


def removed(hours: float) -> Duration:
    return Duration(hours * H, True)


def still_open(hours: float) -> Duration:
    return Duration(hours * H, False)


def test_without_censoring_it_is_the_empirical_distribution() -> None:
    summary = summarise([removed(h) for h in (1, 2, 3, 4)])
    assert summary.median == 2 * H  # S(2) = 0.5
    assert summary.p90 == 4 * H
    assert summary.within_24h == 1.0


def test_open_cases_lower_the_removed_share() -> None:
    # Removed at 10 h, 20 h, 30 h; open for 15 h, 100 h. By hand:
    # t=10: 5 at risk, S = 4/5 = 0.8; t=20: 3 at risk (15 h censored left), S = 0.8·2/3 = 0.5333
    # t=30: 2 at risk, S = 0.5333·1/2 = 0.2667.
    durations = [removed(10), still_open(15), removed(20), removed(30), still_open(100)]
    curve = survival_curve(durations)
    assert [round(s, 4) for _, s in curve] == [0.8, 0.5333, 0.2667]
    summary = summarise(durations)
    assert summary.within_24h == pytest.approx(1 - 0.8 * 2 / 3)
    assert summary.within_72h == pytest.approx(1 - 0.8 * 2 / 3 / 2)
    assert summary.median == 30 * H  # S first ≤ 0.5 at 30 h
    assert summary.p90 is None  # never 90 % removed in what we saw
    assert (summary.cases, summary.removed) == (5, 3)


def test_naive_share_would_be_wrong() -> None:
    # 2 of 2 closed cases removed within 24 h, but 8 cases still open after 48 h.
    durations = [removed(5), removed(6)] + [still_open(48)] * 8
    summary = summarise(durations)
    assert summary.within_24h == pytest.approx(0.2)
    assert summary.median is None


def test_ties_between_removal_and_censoring_count_the_censored_at_risk() -> None:
    curve = survival_curve([removed(5), still_open(5), removed(8)])
    # t=5: 3 at risk, 1 removal → 2/3; t=8: 1 at risk → 0.
    assert [round(s, 4) for _, s in curve] == [0.6667, 0.0]
    assert survival_at(curve, 4 * H) == 1.0
    assert quantile(curve, 0.9) == 8 * H


def test_empty_input() -> None:
    summary = summarise([])
    assert (summary.median, summary.within_24h, summary.cases) == (None, 0.0, 0)


def test_by_hoster_censors_open_cases_at_now() -> None:
    from datetime import UTC, datetime

    from service.domain.stats import ALL_HOSTERS, by_hoster

    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    now = t0 + 100 * H
    rows = [
        {"hoster": "a", "first_notice_at": t0, "detected_at": t0 - 10 * H,
         "first_gone_at": t0 + 10 * H, "removed_at": t0 + 11 * H},
        {"hoster": "a", "first_notice_at": t0, "detected_at": t0,
         "first_gone_at": None, "removed_at": None},
        {"hoster": "b", "first_notice_at": t0 + 90 * H, "detected_at": t0,
         "first_gone_at": t0 + 95 * H, "removed_at": t0 + 96 * H},
    ]  # fmt: skip
    notice = by_hoster(rows, "notice", now)
    assert notice["a"].within_24h == 0.5 and notice["a"].median == 10 * H
    assert notice["b"].median == 5 * H
    assert notice[ALL_HOSTERS].cases == 3
    detection = by_hoster(rows, "detection", now)
    assert detection["a"].median == 20 * H  # S(20 h) = 1/2 (open case censored at 100 h)
