"""Time-to-removal statistics that count open cases: the Kaplan–Meier estimator.

A case still open when we look is *censored*: we know only that removal took longer than
it has been open so far. Dropping those cases (or counting them as removed now) flatters
slow hosters; Kaplan–Meier uses them correctly. The estimate of "still online after t" is
S(t) = Π over event times tᵢ ≤ t of (1 − dᵢ/nᵢ), with dᵢ removals at tᵢ and nᵢ cases still
at risk just before tᵢ (cases censored at tᵢ count as at risk at tᵢ, the usual convention).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


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


@dataclass(frozen=True)
class Tally:
    """Cases that left observation after `length`: how many by removal, how many still open
    (censored). The statistics queries send these pre-aggregated per duration bucket."""

    length: timedelta
    removed: int
    censored: int


def tallies(durations: Iterable[Duration]) -> list[Tally]:
    """Exact tallies: one per distinct duration."""
    removed: Counter[timedelta] = Counter()
    censored: Counter[timedelta] = Counter()
    for d in durations:
        (removed if d.removed else censored)[d.length] += 1
    return [Tally(t, removed[t], censored[t]) for t in sorted(removed.keys() | censored.keys())]


def merged(items: Iterable[Tally]) -> list[Tally]:
    """Tallies of equal length summed, in length order."""
    removed: Counter[timedelta] = Counter()
    censored: Counter[timedelta] = Counter()
    for t in items:
        removed[t.length] += t.removed
        censored[t.length] += t.censored
    return [Tally(t, removed[t], censored[t]) for t in sorted(removed.keys() | censored.keys())]


def km_curve(items: Iterable[Tally]) -> list[tuple[timedelta, float]]:
    """The Kaplan–Meier steps from tallies: (event time, S just after it), in time order."""
    ordered = merged(items)
    at_risk = sum(t.removed + t.censored for t in ordered)
    steps: list[tuple[timedelta, float]] = []
    survival = 1.0
    for t in ordered:
        if t.removed:
            survival *= 1 - t.removed / at_risk
            steps.append((t.length, survival))
        at_risk -= t.removed + t.censored
    return steps


def survival_curve(durations: Iterable[Duration]) -> list[tuple[timedelta, float]]:
    """The Kaplan–Meier steps: (event time, S just after it), in time order."""
    return km_curve(tallies(durations))


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
    return summarise_tallies(tallies(durations))


def summarise_tallies(items: Iterable[Tally]) -> Summary:
    ordered = merged(items)
    curve = km_curve(ordered)
    return Summary(
        cases=sum(t.removed + t.censored for t in ordered),
        removed=sum(t.removed for t in ordered),
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


def tally_of(row: Mapping[str, Any], clock: str, now: datetime) -> Tally | None:
    """A row's contribution on `clock`: a case (the cases columns), or a pre-aggregated
    histogram row (hoster, clock, seconds, removed, censored) from the statistics query."""
    if "censored" in row:
        if row["clock"] != clock:
            return None
        return Tally(timedelta(seconds=row["seconds"]), row["removed"], row["censored"])
    duration = duration_of(dict(row), clock, now)
    if duration is None:
        return None
    return Tally(duration.length, int(duration.removed), int(not duration.removed))


def by_hoster(rows: Iterable[Mapping[str, Any]], clock: str, now: datetime) -> dict[str, Summary]:
    """One summary per hoster (and one over all), counting open cases as censored."""
    groups: dict[str, list[Tally]] = {}
    for row in rows:
        tally = tally_of(row, clock, now)
        if tally is not None:
            groups.setdefault(str(row["hoster"]), []).append(tally)
            groups.setdefault(ALL_HOSTERS, []).append(tally)
    return {hoster: summarise_tallies(items) for hoster, items in sorted(groups.items())}
