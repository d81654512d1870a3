"""What analysts do to cases, as transactions: holds, ladder actions, reviewing answers.

Shared by the pages, the JSON API, the CLI and the escalate stage. Every action appends an
event on each case it touches, with the analyst's name as the actor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from service.db import cases, jobs, oversight_repo
from service.db.queries import q
from service.domain.contact_book import CONTACT_BOOK_REFRESH
from service.domain.escalation import Action, LadderPolicy, Step, apply_action
from service.domain.sla import SlaPolicy
from service.domain.states import OPEN_NOTICE_STATES, RE_RESOLVABLE, CaseState
from service.settings import Settings

SWEEP_REF = 0  # the escalate stage's one sweep job (ref_id 0, created by migration 0050)


class ActionRefused(Exception):
    """An analyst action that does not apply to the case as it is now (said why)."""


def sla_policy(settings: Settings) -> SlaPolicy:
    return SlaPolicy(settings.sla_default, settings.sla_by_country, settings.sla_by_hoster)


def ladder_policy(settings: Settings) -> LadderPolicy:
    return LadderPolicy(
        steps=tuple(Step(name) for name in settings.escalation_steps),
        step_interval=settings.escalation_step_interval,
        renotice_interval=settings.renotice_interval,
    )


async def wake_sweep(conn: asyncpg.Connection) -> None:
    """Make the escalate sweep due now (it is idempotent: moving it earlier only)."""
    await jobs.enqueue_for_ref(conn, "escalate", SWEEP_REF)


async def place_hold(
    conn: asyncpg.Connection,
    *,
    actor: str,
    reason: str,
    case_id: int | None = None,
    hoster: str | None = None,
    domain: str | None = None,
) -> dict[str, Any]:
    """Record a hold and put every case it covers on hold (before any further notice)."""
    async with conn.transaction():
        hold = await oversight_repo.insert_hold(
            conn, case_id=case_id, hoster=hoster, domain=domain, reason=reason, actor=actor
        )
        held = await apply_holds(conn, actor=actor, hold_id=hold["id"])
    return {**hold, "cases_held": held}


async def apply_holds(conn: asyncpg.Connection, *, actor: str, hold_id: int | None = None) -> int:
    """Move cases covered by active holds (one, or all) into `held`; how many moved."""
    moved = 0
    for row in await oversight_repo.cases_to_hold(conn, hold_id):
        detail = {"hold_id": row["hold_id"], "reason": row["reason"]}
        previous = await cases.transition(
            conn,
            row["id"],
            CaseState.HELD,
            actor=actor,
            kind="hold",
            detail=detail,
            expect=CaseState(row["state"]),
        )
        moved += previous is not None
    return moved


async def hold_if_covered(conn: asyncpg.Connection, case_id: int, *, actor: str) -> bool:
    """Put the case on hold now if an active hold covers it; True when it is (now) held."""
    hold = await oversight_repo.hold_covering_case(conn, case_id)
    if hold is None:
        return False
    if hold["state"] == CaseState.HELD.value:
        return True
    previous = await cases.transition(
        conn,
        case_id,
        CaseState.HELD,
        actor=actor,
        kind="hold",
        detail={"hold_id": hold["hold_id"], "reason": hold["reason"]},
        expect=CaseState(hold["state"]),
    )
    return previous is not None


async def lift_hold(conn: asyncpg.Connection, hold_id: int, *, actor: str) -> dict[str, Any] | None:
    """Lift a hold; its cases no other hold covers go back to work (notice or resolution)."""
    async with conn.transaction():
        hold = await oversight_repo.lift_hold(conn, hold_id, actor)
        if hold is None:
            return None
        released = 0
        for row in await oversight_repo.cases_to_release(conn, hold_id):
            released += await _release(
                conn, row["id"], bool(row["routable"]), row["before_hold"], actor, hold_id
            )
    return {**hold, "cases_released": released}


def _after_hold(routable: bool, before_hold: str | None) -> tuple[CaseState, str | None]:
    """Where a released case goes and which stage picks it up (None: its jobs carry on).

    A case held after its notice went out resumes that notice state: the hoster was told,
    its clock and re-checks continue, and a second first notice would only confuse the
    desk. A case held before any notice goes to the outbox; one without a route is
    resolved first."""
    if before_hold is not None and CaseState(before_hold) in OPEN_NOTICE_STATES:
        return CaseState(before_hold), None
    return (CaseState.RESOLVED, "outbox") if routable else (CaseState.RECEIVED, "resolve")


async def _release(
    conn: asyncpg.Connection,
    case_id: int,
    routable: bool,
    before_hold: str | None,
    actor: str,
    hold_id: int,
) -> int:
    target, stage = _after_hold(routable, before_hold)
    moved = await cases.transition(
        conn,
        case_id,
        target,
        actor=actor,
        kind="hold_lifted",
        detail={"hold_id": hold_id},
        expect=CaseState.HELD,
    )
    if moved is None:
        return 0
    if stage is not None:
        await jobs.enqueue_for_case(conn, stage, case_id)
    return 1


async def ladder_action(
    conn: asyncpg.Connection,
    case_id: int,
    action: Action,
    policy: LadderPolicy,
    *,
    actor: str,
    now: datetime,
    note: str = "",
) -> dict[str, Any]:
    """Pause / resume / skip / trigger a case's ladder; LadderError if it does not apply."""
    async with conn.transaction():
        before = await oversight_repo.ladder_for_update(conn, case_id)
        after = apply_action(before, action, policy, now)
        # wake_at now: the sweep re-plans this case on its next run (at once when woken).
        await oversight_repo.save_ladder(conn, case_id, after, now)
        detail: dict[str, Any] = {"action": action.value, "note": note[:500]}
        if action in (Action.SKIP, Action.TRIGGER):
            detail["step"] = policy.steps[before.next_step].value
        await cases.add_event(conn, case_id, actor=actor, kind="escalation_action", detail=detail)
        await wake_sweep(conn)
    return detail


async def review_answers(
    conn: asyncpg.Connection, case_id: int, answers: list[str], *, actor: str, note: str = ""
) -> int:
    """Mark a case's 'not ours' / dispute answers reviewed (leaves their queue)."""
    async with conn.transaction():
        count = await oversight_repo.review_answers(conn, case_id, answers)
        detail = {"answers": answers, "reviewed": count, "note": note[:500]}
        await cases.add_event(conn, case_id, actor=actor, kind="answers_reviewed", detail=detail)
    return count


async def re_resolve(
    conn: asyncpg.Connection, case_id: int, *, actor: str, note: str = ""
) -> dict[str, Any]:
    """Send a case through resolution again (new contact-book rules, a "not ours" answer).

    The case goes back to 'resolving' with the analyst's event and gets a 'resolve' job; the
    resolve stage writes the new route and, when resolved, hands it to the outbox. Unreviewed
    "not ours" answers count as dealt with: this is what the analyst did about them."""
    async with conn.transaction():
        state = await case_state_for_update(conn, case_id)
        if state not in RE_RESOLVABLE:
            raise ActionRefused(f"a case that is {state} is not resolved again")
        reviewed = await oversight_repo.review_answers(conn, case_id, ["not_ours"])
        detail = {"note": note[:500], "answers_reviewed": reviewed}
        await cases.transition(
            conn, case_id, CaseState.RESOLVING, actor=actor, kind="re_resolve", detail=detail
        )
        # After the resolvers' contact-book snapshots have caught up with a rule just added.
        due = await conn.fetchval("SELECT now() + $1::interval", CONTACT_BOOK_REFRESH)
        await jobs.enqueue_for_case(conn, "resolve", case_id, run_at=due)
    return {"action": "re_resolve", "from_state": state.value, **detail}


async def case_state_for_update(conn: asyncpg.Connection, case_id: int) -> CaseState:
    """The case's state, its row locked until the end of the transaction."""
    return CaseState(await conn.fetchval(q("case_state_for_update"), case_id))
