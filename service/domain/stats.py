"""Time-to-removal statistics that count open cases: the Kaplan–Meier estimator.

A case still open when we look is *censored*: we know only that removal took longer than
it has been open so far. Dropping those cases (or counting them as removed now) flatters
slow hosters; Kaplan–Meier uses them correctly. The estimate of "still online after t" is
S(t) = Π over event times tᵢ ≤ t of (1 − dᵢ/nᵢ), with dᵢ removals at tᵢ and nᵢ cases still
at risk just before tᵢ (cases censored at tᵢ count as at risk at tᵢ, the usual convention).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Duration:
    """One case: how long it was observed, and whether it ended in removal."""

    length: timedelta
    removed: bool


@dataclass(frozen=True)
class Summary:
    """Median and p90 time to removal (None: not reached yet), share removed by 24 h / 72 h."""

    cases: int
    removed: int
    median: timedelta | None
    p90: timedelta | None
    within_24h: float
    within_72h: float


def survival_curve(durations: Iterable[Duration]) -> list[tuple[timedelta, float]]:
    """The Kaplan–Meier steps: (event time, S just after it), in time order."""
    items = list(durations)
    removals = Counter(d.length for d in items if d.removed)
    at_risk = len(items)
    leaving = Counter(d.length for d in items)
    steps: list[tuple[timedelta, float]] = []
    survival = 1.0
    for t in sorted(leaving):
        if removals[t]:
            survival *= 1 - removals[t] / at_risk
            steps.append((t, survival))
        at_risk -= leaving[t]
    return steps


def survival_at(curve: list[tuple[timedelta, float]], t: timedelta) -> float:
    """S(t): the share of cases still online after t."""
    value = 1.0
    for when, survival in curve:
        if when > t:
            break
        value = survival
    return value


def quantile(curve: list[tuple[timedelta, float]], removed_share: float) -> timedelta | None:
    """The first time by which `removed_share` of cases were removed (S(t) ≤ 1 − share)."""
    for when, survival in curve:
        if survival <= 1 - removed_share + 1e-12:
            return when
    return None


def summarise(durations: Iterable[Duration]) -> Summary:
    items = list(durations)
    curve = survival_curve(items)
    return Summary(
        cases=len(items),
        removed=sum(d.removed for d in items),
        median=quantile(curve, 0.5),
        p90=quantile(curve, 0.9),
        within_24h=1 - survival_at(curve, timedelta(hours=24)),
        within_72h=1 - survival_at(curve, timedelta(hours=72)),
    )


ALL_HOSTERS = "(all)"


def duration_of(row: dict[str, object], clock: str, now: datetime) -> Duration | None:
    """A case's time to removal on the `notice` or `detection` clock; open cases censored now.

    `row` holds first_notice_at, detected_at, first_gone_at and removed_at (the cases columns).
    """
    start = row["first_notice_at"] if clock == "notice" else row["detected_at"]
    if not isinstance(start, datetime):
        return None
    gone, removed = row.get("first_gone_at"), row.get("removed_at")
    if isinstance(gone, datetime) and removed is not None:
        return Duration(max(gone - start, timedelta(0)), True)
    return Duration(max(now - start, timedelta(0)), False)


def by_hoster(rows: Iterable[dict[str, object]], clock: str, now: datetime) -> dict[str, Summary]:
    """One summary per hoster (and one over all), counting open cases as censored."""
    groups: dict[str, list[Duration]] = {}
    for row in rows:
        duration = duration_of(row, clock, now)
        if duration is not None:
            groups.setdefault(str(row["hoster"]), []).append(duration)
            groups.setdefault(ALL_HOSTERS, []).append(duration)
    return {hoster: summarise(items) for hoster, items in sorted(groups.items())}
