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

from service.domain.stats import Duration, summarise, survival_at, survival_curve

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


def scorecard(group: str, cases: list[CaseTimes], now: datetime) -> Scorecard:
    durations = [c.duration(now) for c in cases]
    summary = summarise(durations)
    removed = [c for c in cases if c.first_gone_at is not None]
    long_open = sum(1 for d in durations if not d.removed and d.length > LONG_TAIL)
    came_back = sum(1 for c in cases if c.reappeared)
    return Scorecard(
        group=group,
        items=len(cases),
        open=len(cases) - len(removed),
        removed=len(removed),
        median=summary.median,
        p90=summary.p90,
        within_24h=summary.within_24h,
        within_72h=summary.within_72h,
        open_beyond_42d=long_open / len(cases) if cases else 0.0,
        recidivism=came_back / len(removed) if removed else 0.0,
    )


def scorecards(cases: Iterable[CaseTimes], now: datetime) -> list[Scorecard]:
    """One scorecard per group, slowest first (no median yet counts as slowest)."""
    groups: dict[str, list[CaseTimes]] = defaultdict(list)
    for case in cases:
        groups[case.group].append(case)
    cards = [scorecard(name, items, now) for name, items in groups.items()]
    never = timedelta.max
    return sorted(cards, key=lambda c: (-(c.median or never).total_seconds(), -c.items, c.group))


def curve_points(cases: Iterable[CaseTimes], now: datetime) -> list[tuple[timedelta, float]]:
    """The survival curve (share still online after t) as steps from (0, 1) to the longest
    observation, so that items nobody removed still draw a (flat) line."""
    durations = [c.duration(now) for c in cases]
    points = [(timedelta(0), 1.0), *survival_curve(durations)]
    longest = max((d.length for d in durations), default=timedelta(0))
    if longest > points[-1][0]:
        points.append((longest, points[-1][1]))
    return points


def still_online(cases: Iterable[CaseTimes], now: datetime, at: timedelta) -> float:
    return survival_at(survival_curve(c.duration(now) for c in cases), at)


def removals_per_day(cases: Iterable[CaseTimes]) -> list[tuple[date, int]]:
    """How many items went offline each day (UTC dates), in date order, gaps filled."""
    counts = Counter(c.first_gone_at.date() for c in cases if c.first_gone_at is not None)
    if not counts:
        return []
    first, last = min(counts), max(counts)
    days = (last - first).days + 1
    span = [first + timedelta(days=i) for i in range(days)]
    return [(day, counts.get(day, 0)) for day in span]
