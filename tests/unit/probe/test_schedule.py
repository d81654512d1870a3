"""The re-check cadence and the removal streak rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.domain.schedule import (
    CheckPolicy,
    Streak,
    cadence,
    jittered,
    next_check,
    next_watch,
    react,
)
from service.domain.states import CaseState
from service.domain.verdicts import Verdict

T0 = datetime(2024, 1, 1, tzinfo=UTC)
M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
POLICY = CheckPolicy(
    dense_interval=15 * M,
    dense_for=6 * H,
    hourly_interval=H,
    hourly_until=3 * D,
    sparse_interval=6 * H,
    jitter=0.1,
    watch_after=(D, 7 * D, 30 * D),
    held_min_interval=D,
    streak_length=2,
    min_span=H,
)


def test_cadence_is_dense_then_hourly_then_every_six_hours() -> None:
    assert cadence(POLICY, 5 * H) == 15 * M
    assert cadence(POLICY, 2 * D) == H
    assert cadence(POLICY, 4 * D) == 6 * H


def test_jitter_stays_within_bounds() -> None:
    assert jittered(H, 0.1, 0.0) == 54 * M
    assert jittered(H, 0.1, 0.5) == H
    assert jittered(H, 0.1, 0.9999) < 66 * M


def test_open_case_is_checked_on_the_cadence() -> None:
    at = next_check(POLICY, CaseState.NOTIFIED, T0 + H, clock_start=T0, streak=Streak())
    assert at == T0 + H + 15 * M


def test_held_cases_wait_at_least_the_held_interval() -> None:
    at = next_check(POLICY, CaseState.HELD, T0 + H, clock_start=T0, streak=Streak())
    assert at == T0 + H + D


def test_streak_needs_count_and_span_and_ignores_inconclusive() -> None:
    streak = Streak().after(Verdict.GONE, T0)
    assert not streak.confirms(POLICY)
    streak = streak.after(Verdict.INCONCLUSIVE, T0 + 30 * M)
    streak = streak.after(Verdict.GONE, T0 + 40 * M)
    assert streak.count == 2 and not streak.confirms(POLICY)  # span 40 min < 1 h
    streak = streak.after(Verdict.GONE, T0 + 61 * M)
    assert streak.confirms(POLICY) and streak.started_at == T0


def test_present_breaks_the_streak_and_first_gone_is_of_the_confirming_streak() -> None:
    streak = Streak().after(Verdict.GONE, T0).after(Verdict.PRESENT, T0 + 10 * M)
    assert streak == Streak()
    streak = streak.after(Verdict.GONE, T0 + 2 * H).after(Verdict.GONE, T0 + 4 * H)
    assert streak.confirms(POLICY) and streak.started_at == T0 + 2 * H


def test_pending_case_is_not_rechecked_before_the_streak_can_span() -> None:
    streak = Streak().after(Verdict.GONE, T0)
    at = next_check(POLICY, CaseState.GONE_PENDING, T0, clock_start=T0, streak=streak)
    assert at == T0 + H


def test_removed_case_is_watched_at_1_7_30_days_then_left_alone() -> None:
    assert next_watch(POLICY, T0, T0) == T0 + D
    assert next_watch(POLICY, T0 + D, T0) == T0 + 7 * D
    assert next_watch(POLICY, T0 + 8 * D, T0) == T0 + 30 * D
    assert next_watch(POLICY, T0 + 30 * D, T0) is None
    kwargs = {"clock_start": T0, "streak": Streak(), "removed_at": T0}
    assert next_check(POLICY, CaseState.REMOVED, T0 + 2 * D, **kwargs) == T0 + 7 * D


def test_cases_before_the_notice_are_not_probed() -> None:
    assert next_check(POLICY, CaseState.RESOLVED, T0, clock_start=None, streak=Streak()) is None


def test_reactions_follow_the_lifecycle() -> None:
    one = Streak().after(Verdict.GONE, T0)
    confirmed = one.after(Verdict.GONE, T0 + 2 * H)
    n, gp = CaseState.NOTIFIED, CaseState.GONE_PENDING
    assert react(n, Verdict.GONE, one, None, POLICY).moves == (gp,)
    assert react(n, Verdict.INCONCLUSIVE, Streak(), None, POLICY).moves == ()
    assert react(gp, Verdict.PRESENT, Streak(), CaseState.ACKNOWLEDGED, POLICY).moves == (
        CaseState.ACKNOWLEDGED,
    )
    assert react(gp, Verdict.GONE, one, n, POLICY).moves == ()
    removal = react(gp, Verdict.GONE, confirmed, n, POLICY)
    assert removal.moves == (CaseState.REMOVED,) and removal.removal_confirmed
    assert react(gp, Verdict.INCONCLUSIVE, confirmed, n, POLICY).moves == ()
    back = react(CaseState.REMOVED, Verdict.PRESENT, Streak(), None, POLICY)
    assert back.moves == (CaseState.REAPPEARED,) and back.reappeared
    assert react(CaseState.REMOVED, Verdict.GONE, confirmed, None, POLICY).moves == ()
