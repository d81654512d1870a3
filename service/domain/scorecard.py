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

from service.domain.stats import (
    Duration,
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


@dataclass(frozen=True)
class Bucket:
    """A group's cases whose notice-clock duration is `length` (pre-aggregated by the
    statistics query, or one exact duration): removed ones, open ones, came-back ones."""

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
    summary = summarise_tallies(_tallies(items))
    total = sum(b.removed + b.open for b in items)
    removed = sum(b.removed for b in items)
    long_open = sum(b.open for b in items if b.length > LONG_TAIL)
    came_back = sum(b.reappeared for b in items)
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


def scorecards(cases: Iterable[CaseTimes], now: datetime) -> list[Scorecard]:
    """One scorecard per group, slowest first (no median yet counts as slowest)."""
    return cards_of(buckets(cases, now))


def cards_of(items: Iterable[Bucket]) -> list[Scorecard]:
    """One scorecard per group of the buckets, slowest first."""
    groups: dict[str, list[Bucket]] = defaultdict(list)
    for item in items:
        groups[item.group].append(item)
    cards = [card_of(name, members) for name, members in groups.items()]
    never = timedelta.max
    return sorted(cards, key=lambda c: (-(c.median or never).total_seconds(), -c.items, c.group))


def curve_points(cases: Iterable[CaseTimes], now: datetime) -> list[tuple[timedelta, float]]:
    """The survival curve (share still online after t) as steps from (0, 1) to the longest
    observation, so that items nobody removed still draw a (flat) line."""
    return curve_of(buckets(cases, now))


def curve_of(items: Iterable[Bucket]) -> list[tuple[timedelta, float]]:
    """The survival curve over all the buckets (every group together)."""
    listed = list(items)
    points = [(timedelta(0), 1.0), *km_curve(_tallies(listed))]
    longest = max((b.length for b in listed), default=timedelta(0))
    if longest > points[-1][0]:
        points.append((longest, points[-1][1]))
    return points


def still_online(cases: Iterable[CaseTimes], now: datetime, at: timedelta) -> float:
    return survival_at(survival_curve(c.duration(now) for c in cases), at)


def _tallies(items: Iterable[Bucket]) -> list[Tally]:
    return [Tally(b.length, b.removed, b.open) for b in items]


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
