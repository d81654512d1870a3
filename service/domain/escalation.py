"""The re-notice and escalation ladder. Pure: functions decide and return outcomes.

While a case is on the notice clock its hoster gets a reminder every `renotice_interval`.
Reminders fall on fixed slots (multiples of the interval since the Unix epoch, so daily at
00:00 UTC by default): every open item of a recipient comes due in the same slot and leaves
as one digest per recipient, however the items' notices were spread over the day.

After the deadline the ladder climbs one step per `step_interval`: the upstream provider,
the CDN, the registrar (domain suspension), the hosting country's hotline, and finally a
"refer to law enforcement" hand-off. A step with nobody to write to is skipped at once (the
next step is due immediately). An analyst can pause the case (no reminders, no steps), skip
the next step, or trigger it now (also before the deadline, also while paused).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from service.domain.notices import is_valid_address
from service.domain.sla import CLOCK_STATES
from service.domain.states import CaseState

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Step(StrEnum):
    UPSTREAM = "upstream"
    CDN = "cdn"
    REGISTRAR = "registrar"
    HOTLINE = "hotline"
    LAW_ENFORCEMENT = "law_enforcement"


DEFAULT_LADDER = tuple(Step)


class Action(StrEnum):
    """What an analyst can do to a case's ladder."""

    PAUSE = "pause"
    RESUME = "resume"
    SKIP = "skip"
    TRIGGER = "trigger"


class LadderError(ValueError):
    """An analyst action that does not apply (e.g. skipping past the last step)."""


@dataclass(frozen=True)
class LadderPolicy:
    """The ladder's steps and cadence (from settings)."""

    steps: tuple[Step, ...]
    step_interval: timedelta
    renotice_interval: timedelta


@dataclass(frozen=True)
class Ladder:
    """Where a case stands on the ladder (persisted per case)."""

    next_step: int = 0
    paused: bool = False
    triggered: bool = False
    next_step_at: datetime | None = None  # None: the deadline decides
    last_reminder_at: datetime | None = None

    def finished(self, policy: LadderPolicy) -> bool:
        return self.next_step >= len(policy.steps)


@dataclass(frozen=True)
class CaseClock:
    """What the ladder needs to know about a case."""

    state: CaseState
    first_notice_at: datetime | None
    last_notice_at: datetime | None  # the last notice of any kind the hoster was sent
    deadline: datetime | None


@dataclass(frozen=True)
class Plan:
    """What to do now: send a reminder, climb a step (or neither)."""

    remind: bool
    step: Step | None


def reminder_slot(after: datetime, interval: timedelta) -> datetime:
    """The first reminder slot at least half an interval after `after` (slots since epoch)."""
    earliest = after + interval / 2
    slots = -(-(earliest - EPOCH) // interval)  # ceiling division of timedeltas
    return EPOCH + slots * interval


def last_contact(clock: CaseClock, ladder: Ladder) -> datetime | None:
    candidates = (clock.first_notice_at, clock.last_notice_at, ladder.last_reminder_at)
    moments = [m for m in candidates if m is not None]
    return max(moments) if moments else None


def reminder_due_at(clock: CaseClock, ladder: Ladder, policy: LadderPolicy) -> datetime | None:
    last = last_contact(clock, ladder)
    return reminder_slot(last, policy.renotice_interval) if last else None


def step_due_at(clock: CaseClock, ladder: Ladder, policy: LadderPolicy) -> datetime | None:
    """When the next ladder step is due; None when the ladder is done or no deadline yet."""
    if ladder.finished(policy):
        return None
    return ladder.next_step_at or clock.deadline


def plan(clock: CaseClock, ladder: Ladder, policy: LadderPolicy, now: datetime) -> Plan:
    """Decide what is due for one case at `now`."""
    if clock.state not in CLOCK_STATES:
        return Plan(False, None)
    next_step = None if ladder.finished(policy) else policy.steps[ladder.next_step]
    if ladder.triggered:
        return Plan(False, next_step)
    if ladder.paused:
        return Plan(False, None)
    remind_at = reminder_due_at(clock, ladder, policy)
    step_at = step_due_at(clock, ladder, policy)
    return Plan(
        remind=remind_at is not None and now >= remind_at,
        step=next_step if step_at is not None and now >= step_at else None,
    )


def after_reminder(ladder: Ladder, now: datetime) -> Ladder:
    return replace(ladder, last_reminder_at=now)


def after_step(ladder: Ladder, policy: LadderPolicy, now: datetime, *, delivered: bool) -> Ladder:
    """Climb one rung. A step skipped for lack of a contact makes the next one due at once."""
    wait = policy.step_interval if delivered else timedelta(0)
    return replace(ladder, next_step=ladder.next_step + 1, next_step_at=now + wait, triggered=False)


def wake_at(clock: CaseClock, ladder: Ladder, policy: LadderPolicy) -> datetime | None:
    """When this case next needs looking at; None while it is off the clock or paused."""
    if clock.state not in CLOCK_STATES or (ladder.paused and not ladder.triggered):
        return None
    moments = [reminder_due_at(clock, ladder, policy), step_due_at(clock, ladder, policy)]
    due = [m for m in moments if m is not None]
    return min(due) if due else None


def apply_action(ladder: Ladder, action: Action, policy: LadderPolicy, now: datetime) -> Ladder:
    """The ladder after an analyst's pause / resume / skip / trigger."""
    if action is Action.PAUSE:
        return replace(ladder, paused=True)
    if action is Action.RESUME:
        due = ladder.next_step_at
        return replace(ladder, paused=False, next_step_at=max(due, now) if due else None)
    if ladder.finished(policy):
        raise LadderError("the ladder has no step left")
    if action is Action.SKIP:
        return replace(ladder, next_step=ladder.next_step + 1, triggered=False)
    return replace(ladder, triggered=True)


@dataclass(frozen=True)
class RouteContacts:
    """The contacts a case's routing decision knows beyond the hoster's abuse desk."""

    recipients: tuple[Mapping[str, Any], ...] = ()
    cdn_abuse: str | None = None
    registrar_abuse: str | None = None
    hotline_address: str | None = None

    @classmethod
    def from_route(cls, route: Mapping[str, Any] | None) -> RouteContacts:
        if not route:
            return cls()
        return cls(
            recipients=tuple(r for r in route.get("recipients") or () if isinstance(r, dict)),
            cdn_abuse=_field(route.get("cdn"), "abuse"),
            registrar_abuse=_field(route.get("registrar"), "abuse"),
            hotline_address=_field(route.get("hotline"), "address"),
        )


def _field(value: Any, name: str) -> str | None:
    found = value.get(name) if isinstance(value, dict) else None
    return found if isinstance(found, str) and "@" in found else None


# Roles of ranked recipients that are not the hosting network's own desk.
_NOT_UPSTREAM = {"cdn-abuse", "registrar", "hotline", "cc"}


def upstream_candidates(contacts: RouteContacts) -> list[str]:
    """Upstream addresses, best first: explicit upstream roles, Abusix (it publishes the
    largest allocation's desk, i.e. the upstream's), then any other network contact."""

    def rank(r: Mapping[str, Any]) -> int:
        role, source = str(r.get("role", "")), str(r.get("source", ""))
        if role in ("upstream", "parent", "asn"):
            return 0
        return 1 if "abusix" in source or "asn" in source or "parent" in source else 2

    pool = [r for r in contacts.recipients if str(r.get("role", "")) not in _NOT_UPSTREAM]
    return [str(r["address"]) for r in sorted(pool, key=rank) if r.get("address")]


def step_candidates(step: Step, contacts: RouteContacts) -> list[str]:
    """Every address the route names for a step, best first, usable or not."""
    if step is Step.UPSTREAM:
        return upstream_candidates(contacts)
    single = {
        Step.CDN: contacts.cdn_abuse,
        Step.REGISTRAR: contacts.registrar_abuse,
        Step.HOTLINE: contacts.hotline_address,
    }.get(step)
    return [single] if single else []


def unusable_targets(step: Step, contacts: RouteContacts) -> list[str]:
    """Addresses of a step that no mail can go to (the strict check first notices use:
    RDAP data anyone can write ends up in SMTP envelopes and headers)."""
    return [a for a in step_candidates(step, contacts) if not is_valid_address(a)]


def step_target(step: Step, contacts: RouteContacts, contacted: Iterable[str]) -> str | None:
    """Whom a step writes to; None when nobody new and valid can be written to (the step is
    skipped). Law enforcement is a hand-off record, never a mail."""
    done = {a.casefold() for a in contacted}
    fresh = [
        a
        for a in step_candidates(step, contacts)
        if is_valid_address(a) and a.casefold() not in done
    ]
    return fresh[0] if fresh else None
