"""Time-to-removal statistics that count open cases: the Kaplan–Meier estimator.

A case still open when we look is *censored*: we know only that removal took longer than
it has been open so far. Dropping those cases (or counting them as removed now) flatters
slow hosters; Kaplan–Meier uses them correctly. The estimate of "still online after t" is
S(t) = Π over event times tᵢ ≤ t of (1 − dᵢ/nᵢ), with dᵢ removals at tᵢ and nᵢ cases still
at risk just before tᵢ (cases censored at tᵢ count as at risk at tᵢ, the usual convention).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, NamedTuple, TypeVar


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


class Tally(NamedTuple):
    """Cases that left observation after `length`: how many by removal, how many still open
    (censored). The statistics queries send these pre-aggregated per duration bucket (a
    named tuple: hundreds of thousands are built per request at a million cases)."""

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
    return _merged(list(items))


def _merged(items: list[Tally]) -> list[Tally]:
    # Histograms arrive sorted with distinct lengths (one row per bucket): keep them as they
    # are; otherwise sum per length (dict arithmetic, no Counter: this runs per request).
    if all(a.length < b.length for a, b in pairwise(items)):
        return items
    sums: dict[timedelta, list[int]] = {}
    for t in items:
        acc = sums.get(t.length)
        if acc is None:
            sums[t.length] = [t.removed, t.censored]
        else:
            acc[0] += t.removed
            acc[1] += t.censored
    return [Tally(length, *sums[length]) for length in sorted(sums)]


def km_curve(items: Iterable[Tally]) -> list[tuple[timedelta, float]]:
    """The Kaplan–Meier steps from tallies: (event time, S just after it), in time order."""
    return _km_steps(_merged(list(items)))


def _km_steps(ordered: list[Tally]) -> list[tuple[timedelta, float]]:
    at_risk = sum(t.removed + t.censored for t in ordered)
    steps: list[tuple[timedelta, float]] = []
    survival = 1.0
    for length, removed, censored in ordered:
        if removed:
            survival *= 1 - removed / at_risk
            steps.append((length, survival))
        at_risk -= removed + censored
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
    threshold = _threshold(removed_share)
    for when, survival in curve:
        if survival <= threshold:
            return when
    return None


def _threshold(removed_share: float) -> float:
    return 1 - removed_share + 1e-12


def summarise(durations: Iterable[Duration]) -> Summary:
    return summarise_tallies(tallies(durations))


def summarise_tallies(items: Iterable[Tally]) -> Summary:
    ordered = _merged(list(items))
    total = sum(t.removed + t.censored for t in ordered)
    median, p90, within_24h, within_72h = estimate(ordered, total, _DAY, 3 * _DAY)
    return Summary(
        cases=total,
        removed=sum(t.removed for t in ordered),
        median=median,
        p90=p90,
        within_24h=within_24h,
        within_72h=within_72h,
    )


_DAY = timedelta(hours=24)
L = TypeVar("L", timedelta, int)


def estimate(
    ordered: Iterable[tuple[L, int, int]], total: int, day: L, three_days: L
) -> tuple[L | None, L | None, float, float]:
    """Kaplan–Meier in one pass over (length, removed, censored) in length order, lengths
    distinct (timedeltas, or seconds from a histogram): median, p90, share removed within
    `day` and within `three_days`. The same steps as km_curve, quantile and survival_at."""
    at_risk, survival = total, 1.0
    median: L | None = None
    p90: L | None = None
    by_day = by_three_days = 1.0
    half, ninety = _threshold(0.5), _threshold(0.9)
    for length, removed, censored in ordered:
        if removed:
            survival *= 1 - removed / at_risk
            if length <= day:
                by_day = survival
            if length <= three_days:
                by_three_days = survival
            if median is None and survival <= half:
                median = length
            if p90 is None and survival <= ninety:
                p90 = length
        at_risk -= removed + censored
    return median, p90, 1 - by_day, 1 - by_three_days


@dataclass(frozen=True)
class Histogram:
    """One group's time to removal as the statistics queries send it: per duration bucket
    (seconds, ascending, distinct) the cases removed after it and those censored after it."""

    group: str
    seconds: Sequence[int]
    removed: Sequence[int]
    censored: Sequence[int]

    def summary(self) -> Summary:
        total = sum(self.removed) + sum(self.censored)
        rows = zip(self.seconds, self.removed, self.censored, strict=True)
        median, p90, within_24h, within_72h = estimate(rows, total, 86400, 3 * 86400)
        return Summary(
            cases=total,
            removed=sum(self.removed),
            median=_span(median),
            p90=_span(p90),
            within_24h=within_24h,
            within_72h=within_72h,
        )


def _span(seconds: int | None) -> timedelta | None:
    return timedelta(seconds=seconds) if seconds is not None else None


def summaries_of(groups: Iterable[Histogram], overall: Histogram) -> dict[str, Summary]:
    """by_hoster's result from histograms: one summary per group and one over all."""
    out = {h.group: h.summary() for h in groups}
    if out:
        out[ALL_HOSTERS] = overall.summary()
    return dict(sorted(out.items()))


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
