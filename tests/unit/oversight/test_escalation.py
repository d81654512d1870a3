"""The reminder slots and the escalation ladder, step by step (hand-computed times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.domain.escalation import (
    DEFAULT_LADDER,
    Action,
    CaseClock,
    Ladder,
    LadderError,
    LadderPolicy,
    RouteContacts,
    Step,
    after_reminder,
    after_step,
    apply_action,
    plan,
    reminder_slot,
    step_target,
    unusable_targets,
    wake_at,
)
from service.domain.states import CaseState

H = timedelta(hours=1)
DAY = timedelta(days=1)
POLICY = LadderPolicy(steps=DEFAULT_LADDER, step_interval=DAY, renotice_interval=DAY)
NOTICE = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
DEADLINE = NOTICE + 24 * H


def clock(state: CaseState = CaseState.NOTIFIED) -> CaseClock:
    return CaseClock(state, NOTICE, NOTICE, DEADLINE)


def test_reminders_fall_on_daily_midnight_slots_at_least_half_a_day_later() -> None:
    assert reminder_slot(NOTICE, DAY) == datetime(2024, 3, 2, tzinfo=UTC)
    # a notice at 20:00 is not reminded four hours later but the midnight after next
    evening = datetime(2024, 3, 1, 20, 0, tzinfo=UTC)
    assert reminder_slot(evening, DAY) == datetime(2024, 3, 3, tzinfo=UTC)


def test_items_notified_at_different_hours_share_one_digest_slot() -> None:
    morning, noon = datetime(2024, 3, 1, 1, tzinfo=UTC), datetime(2024, 3, 1, 11, tzinfo=UTC)
    assert reminder_slot(morning, DAY) == reminder_slot(noon, DAY)


def test_reminder_due_at_slot_then_every_day() -> None:
    ladder = Ladder()
    assert plan(clock(), ladder, POLICY, datetime(2024, 3, 1, 23, 59, tzinfo=UTC)).remind is False
    midnight = datetime(2024, 3, 2, tzinfo=UTC)
    assert plan(clock(), ladder, POLICY, midnight).remind is True
    ladder = after_reminder(ladder, midnight)
    assert wake_at(clock(), ladder, POLICY) == DEADLINE  # 2 March 09:30: the first step
    assert plan(clock(), ladder, POLICY, midnight + 23 * H).remind is False
    assert plan(clock(), ladder, POLICY, midnight + DAY).remind is True


def test_the_ladder_climbs_one_step_a_day_after_the_deadline() -> None:
    ladder, now, climbed = Ladder(), DEADLINE, []
    assert plan(clock(), ladder, POLICY, DEADLINE - timedelta(seconds=1)).step is None
    for _ in DEFAULT_LADDER:
        step = plan(clock(), ladder, POLICY, now).step
        assert step is not None
        climbed.append(step)
        ladder = after_step(ladder, POLICY, now, delivered=True)
        assert plan(clock(), ladder, POLICY, now + 23 * H).step is None
        now += DAY
    assert climbed == list(Step)
    assert plan(clock(), ladder, POLICY, now + 100 * DAY).step is None


def test_a_step_without_contact_makes_the_next_one_due_at_once() -> None:
    ladder = after_step(Ladder(), POLICY, DEADLINE, delivered=False)
    assert plan(clock(), ladder, POLICY, DEADLINE).step is Step.CDN


def test_nothing_happens_off_the_clock() -> None:
    late = DEADLINE + 10 * DAY
    for state in (CaseState.REMOVED, CaseState.HELD, CaseState.GONE_PENDING):
        assert plan(clock(state), Ladder(), POLICY, late).step is None
        assert wake_at(clock(state), Ladder(), POLICY) is None


def test_pause_stops_reminders_and_steps_until_resumed() -> None:
    late = DEADLINE + 3 * DAY
    paused = apply_action(Ladder(), Action.PAUSE, POLICY, NOTICE)
    decision = plan(clock(), paused, POLICY, late)
    assert (decision.remind, decision.step) == (False, None)
    assert wake_at(clock(), paused, POLICY) is None
    resumed = apply_action(paused, Action.RESUME, POLICY, late)
    assert plan(clock(), resumed, POLICY, late).step is Step.UPSTREAM


def test_skip_moves_past_the_next_step() -> None:
    skipped = apply_action(Ladder(), Action.SKIP, POLICY, NOTICE)
    assert plan(clock(), skipped, POLICY, DEADLINE).step is Step.CDN


def test_trigger_climbs_now_even_before_the_deadline_and_while_paused() -> None:
    paused = apply_action(Ladder(), Action.PAUSE, POLICY, NOTICE)
    triggered = apply_action(paused, Action.TRIGGER, POLICY, NOTICE + H)
    assert plan(clock(), triggered, POLICY, NOTICE + H).step is Step.UPSTREAM
    after = after_step(triggered, POLICY, NOTICE + H, delivered=True)
    assert after.triggered is False and after.paused is True


def test_no_step_left_to_skip_or_trigger() -> None:
    done = Ladder(next_step=len(DEFAULT_LADDER))
    with pytest.raises(LadderError):
        apply_action(done, Action.TRIGGER, POLICY, NOTICE)


ROUTE = RouteContacts.from_route(
    {
        "recipients": [
            {"address": "abuse@hoster.example", "role": "abuse", "source": "rdap:abuse-c"},
            {"address": "abuse@transit.example", "role": "abuse", "source": "abusix"},
            {"address": "hotline@meldpunt.example", "role": "hotline", "source": "jurisdiction:NL"},
        ],
        "cdn": {"name": "FastCDN", "abuse": "abuse@cdn.example"},
        "registrar": {"name": "Reg", "abuse": "abuse@registrar.example"},
        "hotline": {"country": "NL", "address": "hotline@meldpunt.example"},
    }
)


def test_step_targets_skip_who_was_written_to_already() -> None:
    contacted = {"abuse@hoster.example", "hotline@meldpunt.example"}
    assert step_target(Step.UPSTREAM, ROUTE, contacted) == "abuse@transit.example"
    assert step_target(Step.CDN, ROUTE, contacted) == "abuse@cdn.example"
    assert step_target(Step.REGISTRAR, ROUTE, contacted) == "abuse@registrar.example"
    assert step_target(Step.HOTLINE, ROUTE, contacted) is None
    assert step_target(Step.LAW_ENFORCEMENT, ROUTE, contacted) is None


def test_step_targets_never_name_an_address_no_mail_can_carry() -> None:
    route = RouteContacts(
        recipients=(
            {"address": "abüse@host-a.net", "role": "upstream", "source": "rdap:parent"},
            {"address": "abuse@transit.example", "role": "abuse", "source": "abusix"},
        ),
        cdn_abuse="abuse\r\nBcc: x@cdn.example",
        registrar_abuse="abüse@registrar.example",
    )
    assert step_target(Step.UPSTREAM, route, set()) == "abuse@transit.example"
    assert step_target(Step.CDN, route, set()) is None
    assert step_target(Step.REGISTRAR, route, set()) is None
    assert unusable_targets(Step.REGISTRAR, route) == ["abüse@registrar.example"]


def test_explicit_upstream_role_beats_abusix() -> None:
    route = RouteContacts(
        recipients=(
            {"address": "a@abusix.example", "role": "abuse", "source": "abusix"},
            {"address": "noc@upstream.example", "role": "upstream", "source": "rdap:parent"},
        )
    )
    assert step_target(Step.UPSTREAM, route, set()) == "noc@upstream.example"
