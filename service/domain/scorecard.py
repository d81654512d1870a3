"""Per-hoster (ASN, country) scorecards: how fast known content comes down after a notice.

Pure. Time to removal runs on the notice clock (`first_gone_at − first_notice_at`); items
still online are censored at `now` and enter the Kaplan–Meier estimate from
service.domain.stats, so a hoster that never removes anything cannot look fast.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from service.domain.stats import (
    Duration,
    Histogram,
    Summary,
    Tally,
    km_curve,
    summarise_tallies,
    survival_at,
    survival_curve,
)

LONG_TAIL = timedelta(days=42)  # Project Arachnid's published long tail


@dataclass(frozen=True)
class CaseTimes:
    """One notified case as the statistics see it."""

    group: str
    first_notice_at: datetime
    first_gone_at: datetime | None
    reappeared: bool = False

    def duration(self, now: datetime) -> Duration:
        end = self.first_gone_at or now
        length = max(end - self.first_notice_at, timedelta(0))
        return Duration(length, self.first_gone_at is not None)


@dataclass(frozen=True)
class Scorecard:
    """One group's figures; median/p90 None when fewer than half/90 % were ever removed."""

    group: str
    items: int
    open: int
    removed: int
    median: timedelta | None
    p90: timedelta | None
    within_24h: float
    within_72h: float
    open_beyond_42d: float
    recidivism: float


class Bucket(NamedTuple):
    """A group's cases whose notice-clock duration is `length` (pre-aggregated by the
    statistics query, or one exact duration): removed ones, open ones, came-back ones.
    A named tuple: a statistics request at a million cases builds a few hundred thousand."""

    group: str
    length: timedelta
    removed: int
    open: int
    reappeared: int = 0


def buckets(cases: Iterable[CaseTimes], now: datetime) -> list[Bucket]:
    """Exact buckets: one per case."""
    out = []
    for c in cases:
        d = c.duration(now)
        out.append(Bucket(c.group, d.length, int(d.removed), int(not d.removed), int(c.reappeared)))
    return out


def scorecard(group: str, cases: list[CaseTimes], now: datetime) -> Scorecard:
    return card_of(group, buckets(cases, now))


def card_of(group: str, items: list[Bucket]) -> Scorecard:
    """One group's scorecard from its buckets."""
    removed = long_open = came_back = 0
    for b in items:
        removed += b.removed
        came_back += b.reappeared
        if b.length > LONG_TAIL:
            long_open += b.open
    return _card(group, summarise_tallies(_tallies(items)), long_open, came_back)


def _card(group: str, summary: Summary, long_open: int, came_back: int) -> Scorecard:
    total, removed = summary.cases, summary.removed
    return Scorecard(
        group=group,
        items=total,
        open=total - removed,
        removed=removed,
        median=summary.median,
        p90=summary.p90,
        within_24h=summary.within_24h,
        within_72h=summary.within_72h,
        open_beyond_42d=long_open / total if total else 0.0,
        recidivism=came_back / removed if removed else 0.0,
    )


@dataclass(frozen=True)
class GroupHistogram:
    """One group's buckets as the statistics query sends them (seconds ascending; removed
    as removed, open as censored) with how many of its cases came back after removal."""

    tallies: Histogram
    reappeared: int


def card_of_histogram(item: GroupHistogram) -> Scorecard:
    """card_of for a histogram: the same figures, without an object per bucket."""
    h = item.tallies
    tail = LONG_TAIL.total_seconds()
    long_open = sum(o for s, o in zip(h.seconds, h.censored, strict=True) if s > tail)
    return _card(h.group, h.summary(), long_open, item.reappeared)


def cards_of_histograms(items: Iterable[GroupHistogram]) -> list[Scorecard]:
    """cards_of for histograms: one scorecard per group, slowest first."""
    return _slowest_first(card_of_histogram(item) for item in items)


def curve_of_histogram(overall: Histogram) -> list[tuple[timedelta, float]]:
    """curve_of for the histogram over every group."""
    tallies = [
        Tally(timedelta(seconds=s), r, c)
        for s, r, c in zip(overall.seconds, overall.removed, overall.censored, strict=True)
    ]
    return _curve(tallies, max((t.length for t in tallies), default=timedelta(0)))


def scorecards(cases: Iterable[CaseTimes], now: datetime) -> list[Scorecard]:
    """One scorecard per group, slowest first (no median yet counts as slowest)."""
    return cards_of(buckets(cases, now))


def cards_of(items: Iterable[Bucket]) -> list[Scorecard]:
    """One scorecard per group of the buckets, slowest first."""
    groups: dict[str, list[Bucket]] = defaultdict(list)
    for item in items:
        groups[item.group].append(item)
    return _slowest_first(card_of(name, members) for name, members in groups.items())


def _slowest_first(cards: Iterable[Scorecard]) -> list[Scorecard]:
    never = timedelta.max
    return sorted(cards, key=lambda c: (-(c.median or never).total_seconds(), -c.items, c.group))


def curve_points(cases: Iterable[CaseTimes], now: datetime) -> list[tuple[timedelta, float]]:
    """The survival curve (share still online after t) as steps from (0, 1) to the longest
    observation, so that items nobody removed still draw a (flat) line."""
    return curve_of(buckets(cases, now))


def curve_of(items: Iterable[Bucket]) -> list[tuple[timedelta, float]]:
    """The survival curve over all the buckets (every group together)."""
    listed = list(items)
    return _curve(_tallies(listed), max((b.length for b in listed), default=timedelta(0)))


def _curve(tallies: list[Tally], longest: timedelta) -> list[tuple[timedelta, float]]:
    points = [(timedelta(0), 1.0), *km_curve(tallies)]
    if longest > points[-1][0]:
        points.append((longest, points[-1][1]))
    return points


def still_online(cases: Iterable[CaseTimes], now: datetime, at: timedelta) -> float:
    return survival_at(survival_curve(c.duration(now) for c in cases), at)


def _tallies(items: Iterable[Bucket]) -> list[Tally]:
    return [Tally(length, removed, open_) for _, length, removed, open_, _ in items]


def removals_per_day(cases: Iterable[CaseTimes]) -> list[tuple[date, int]]:
    """How many items went offline each day (UTC dates), in date order, gaps filled."""
    counts = Counter(c.first_gone_at.date() for c in cases if c.first_gone_at is not None)
    return days_filled(counts.items())


def days_filled(counts: Iterable[tuple[date, int]]) -> list[tuple[date, int]]:
    """Per-day counts in date order, the days between with none filled in as 0."""
    known = dict(counts)
    if not known:
        return []
    first, last = min(known), max(known)
    span = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [(day, known.get(day, 0)) for day in span]
