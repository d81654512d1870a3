"""When to check a case next, and when a run of gone verdicts confirms a removal. Pure policy.

Every interval is a setting (the stage builds `CheckPolicy` from Settings), so a test can
run a month of lifecycle in seconds.

The streak rule. Removal is confirmed after `streak_length` gone verdicts in a row that span
at least `min_span` (first to last). A *present* verdict breaks the streak. An *inconclusive*
verdict (timeout, 5xx, 403, …) neither counts nor breaks it: it says nothing about the
content, and letting it break the streak would let a flaky or cloaking server delay the
confirmation forever. `first_gone_at` is the first gone of the confirming streak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.domain.states import CaseState
from service.domain.verdicts import Verdict

S = CaseState
# States in which the content is believed served (or not yet confirmed gone): re-check.
WATCHED_OPEN = frozenset({S.NOTIFIED, S.ACKNOWLEDGED, S.ESCALATED, S.REAPPEARED, S.HELD})
PROBED_STATES = WATCHED_OPEN | {S.GONE_PENDING, S.REMOVED}


@dataclass(frozen=True)
class CheckPolicy:
    """The re-check cadence: dense after the notice, then hourly, then sparse."""

    dense_interval: timedelta
    dense_for: timedelta
    hourly_interval: timedelta
    hourly_until: timedelta
    sparse_interval: timedelta
    jitter: float
    watch_after: tuple[timedelta, ...]
    held_min_interval: timedelta
    streak_length: int
    min_span: timedelta


@dataclass(frozen=True)
class Streak:
    """The current run of gone verdicts (inconclusive ones skipped)."""

    started_at: datetime | None = None
    last_gone_at: datetime | None = None
    count: int = 0

    def after(self, verdict: Verdict, at: datetime) -> Streak:
        """The streak once a check with `verdict` at `at` is added."""
        if verdict is Verdict.PRESENT:
            return Streak()
        if verdict is Verdict.INCONCLUSIVE:
            return self
        return Streak(self.started_at or at, at, self.count + 1)

    def confirms(self, policy: CheckPolicy) -> bool:
        if self.started_at is None or self.last_gone_at is None:
            return False
        span = self.last_gone_at - self.started_at
        return self.count >= policy.streak_length and span >= policy.min_span


def cadence(policy: CheckPolicy, since_notice: timedelta) -> timedelta:
    """The interval that applies this long after the (latest) notice."""
    if since_notice < policy.dense_for:
        return policy.dense_interval
    if since_notice < policy.hourly_until:
        return policy.hourly_interval
    return policy.sparse_interval


def jittered(interval: timedelta, jitter: float, rand: float) -> timedelta:
    """`interval` stretched by up to ±jitter; `rand` in [0, 1) is injected for determinism."""
    return interval * (1 + jitter * (2 * rand - 1))


def next_check(
    policy: CheckPolicy,
    state: CaseState,
    now: datetime,
    *,
    clock_start: datetime | None,
    streak: Streak,
    removed_at: datetime | None = None,
    rand: float = 0.5,
) -> datetime | None:
    """When to check next; None when the case needs no more checks."""
    if state is S.REMOVED:
        return next_watch(policy, now, removed_at)
    if state not in PROBED_STATES:
        return None
    base = cadence(policy, now - (clock_start or now))
    if state is S.GONE_PENDING:
        return _pending_check(policy, now, streak, base, rand)
    wait = jittered(base, policy.jitter, rand)
    if state is S.HELD:
        wait = max(wait, policy.held_min_interval)
    return now + wait


def _pending_check(
    policy: CheckPolicy, now: datetime, streak: Streak, base: timedelta, rand: float
) -> datetime:
    """Confirm quickly: dense checks, but not before the streak can span `min_span`."""
    wait = jittered(min(base, policy.dense_interval), policy.jitter, rand)
    earliest = (streak.started_at or now) + policy.min_span
    if streak.count + 1 >= policy.streak_length and now + wait < earliest:
        return earliest
    return now + wait


def next_watch(policy: CheckPolicy, now: datetime, removed_at: datetime | None) -> datetime | None:
    """The next recidivism watch (removed_at + 1/7/30 days by default) after now."""
    if removed_at is None:
        return None
    for offset in sorted(policy.watch_after):
        if removed_at + offset > now:
            return removed_at + offset
    return None


def held_check_due(
    policy: CheckPolicy, now: datetime, last_checked_at: datetime | None
) -> datetime:
    """Held cases are checked at most every `held_min_interval`: the earliest allowed time."""
    if last_checked_at is None:
        return now
    return max(now, last_checked_at + policy.held_min_interval)


@dataclass(frozen=True)
class Reaction:
    """What a check changes: the states the case passes through, in order."""

    moves: tuple[CaseState, ...] = ()
    removal_confirmed: bool = False

    @property
    def reappeared(self) -> bool:
        """The check found removed content back (derived: the moves say it already)."""
        return S.REAPPEARED in self.moves


def react(
    state: CaseState,
    verdict: Verdict,
    streak: Streak,
    resume: CaseState | None,
    policy: CheckPolicy,
) -> Reaction:
    """The lifecycle's answer to one verdict; `streak` already includes it."""
    if state in WATCHED_OPEN and verdict is Verdict.GONE:
        if streak.confirms(policy):  # a one-check streak policy confirms at once
            return Reaction((S.GONE_PENDING, S.REMOVED), removal_confirmed=True)
        return Reaction((S.GONE_PENDING,))
    if state is S.GONE_PENDING and verdict is Verdict.PRESENT:
        return Reaction((resume or S.NOTIFIED,))
    if state is S.GONE_PENDING and verdict is Verdict.GONE and streak.confirms(policy):
        return Reaction((S.REMOVED,), removal_confirmed=True)
    if state is S.REMOVED and verdict is Verdict.PRESENT:
        return Reaction((S.REAPPEARED,))
    return Reaction()
