"""Oversight: what analysts (and the sweep, for holds) do to cases.

Holds (placed, applied to new arrivals, checked before sending, lifted), ladder actions
(pause / resume / skip / trigger), reviewing hosters' answers, re-resolving a case (what a
hoster's "not ours" answer leads to) and routing a case to an address by hand. Each function
owns its transaction and appends an event on each case it touches, with the actor's name.
`act_on_case` is the one entry for an action named by a page, the API or the CLI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from service.db import cases, jobs, notify_repo, oversight_repo, probe_repo
from service.db.mail_repo import CaseReply
from service.db.oversight_repo import CaseAnswer, CaseHandoff, CaseNotice, HoldRow
from service.db.probe_repo import CaseCheck
from service.domain.escalation import Action, LadderPolicy, apply_action
from service.domain.notices import is_valid_address
from service.domain.sla import SlaPolicy
from service.domain.states import OPEN_NOTICE_STATES, RE_RESOLVABLE, CaseState
from service.notify.outbox import REROUTABLE, place_case
from service.resolve.contact_book import CONTACT_BOOK_REFRESH
from service.settings import Settings
from service.usecases import mail, withdraw
from service.usecases.policies import Policies
from service.usecases.refusals import (
    ActionForbidden,
    ActionInvalid,
    ActionRefused,
    UnknownAction,
)

SWEEP_REF = 0  # the escalate stage's one sweep job (ref_id 0, created by migration 0050)


async def wake_sweep(conn: asyncpg.Connection) -> None:
    """Make the escalate sweep due now (it is idempotent: moving it earlier only)."""
    await jobs.enqueue_for_ref(conn, "escalate", SWEEP_REF)


class PlacedHold(HoldRow):
    """A hold just placed and how many cases it put on hold at once."""

    cases_held: int


class LiftedHold(HoldRow):
    """A hold just lifted and how many cases went back to work."""

    cases_released: int


async def place_hold(
    conn: asyncpg.Connection,
    *,
    actor: str,
    reason: str,
    case_id: int | None = None,
    hoster: str | None = None,
    domain: str | None = None,
) -> PlacedHold:
    """Record a hold and put every case it covers on hold (before any further notice)."""
    async with conn.transaction():
        hold = await oversight_repo.insert_hold(
            conn, case_id=case_id, hoster=hoster, domain=domain, reason=reason, actor=actor
        )
        held = await apply_holds(conn, actor=actor, hold_id=hold["id"])
    placed: PlacedHold = {**hold, "cases_held": held}
    return placed


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


async def held_if_covered(conn: asyncpg.Connection, case_ids: list[int], *, actor: str) -> set[int]:
    """`hold_if_covered` for many cases in one read (holds are rare): those (now) held."""
    covering = await oversight_repo.holds_covering_cases(conn, case_ids)
    return {c for c, hold in sorted(covering.items()) if await _put_on_hold(conn, c, hold, actor)}


async def hold_if_covered(conn: asyncpg.Connection, case_id: int, *, actor: str) -> bool:
    """Put the case on hold now if an active hold covers it; True when it is (now) held."""
    hold = await oversight_repo.hold_covering_case(conn, case_id)
    if hold is None:
        return False
    return await _put_on_hold(conn, case_id, hold, actor)


async def _put_on_hold(
    conn: asyncpg.Connection, case_id: int, hold: oversight_repo.CoveringHold, actor: str
) -> bool:
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


async def lift_hold(conn: asyncpg.Connection, hold_id: int, *, actor: str) -> LiftedHold | None:
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
        state = await cases.state_for_update(conn, case_id)
        if state not in RE_RESOLVABLE:
            raise ActionRefused(f"a case that is {state} is not resolved again")
        reviewed = await oversight_repo.review_answers(conn, case_id, ["not_ours"])
        detail = {"note": note[:500], "answers_reviewed": reviewed}
        await cases.transition(
            conn, case_id, CaseState.RESOLVING, actor=actor, kind="re_resolve", detail=detail
        )
        # After the resolvers' contact-book snapshots have caught up with a rule just added.
        due = await cases.database_now(conn) + CONTACT_BOOK_REFRESH
        await jobs.enqueue_for_case(conn, "resolve", case_id, run_at=due)
    return {"action": "re_resolve", "from_state": state.value, **detail}


# --- routing by hand ("not ours, it is X"; no contact) --------------------------------------
# The address goes first in the case's ranked recipients (source `analyst`), so the outbox
# places the case into that address's notice batch now and, should it bounce, the usual
# rerouting still moves on to the other contacts. An unresolved case becomes resolved by this.
ROUTABLE = RE_RESOLVABLE | {CaseState.REAPPEARED}


async def route_to_address(
    conn: asyncpg.Connection,
    settings: Settings,
    case_id: int,
    address: str,
    *,
    actor: str,
    note: str = "",
) -> dict[str, Any]:
    """Make `address` the case's recipient and place the case into its notice batch."""
    address = address.strip().lower()
    if not is_valid_address(address):
        raise ActionRefused(f"{address!r} is not an e-mail address")
    async with conn.transaction():
        state = await cases.state_for_update(conn, case_id)
        await _check_routable(conn, case_id, state, address)
        entry = {
            "address": address,
            "role": "abuse",
            "source": f"analyst:{actor}",
            "confidence": "high",
            "rank": 0,
        }
        await oversight_repo.prefer_recipient(conn, case_id, entry)
        reviewed = await oversight_repo.review_answers(conn, case_id, ["not_ours"])
        detail = {"address": address, "note": note[:500], "answers_reviewed": reviewed}
        if state is CaseState.UNRESOLVED:
            await cases.transition(
                conn, case_id, CaseState.RESOLVED, actor=actor, kind="routed", detail=detail
            )
        else:
            await cases.add_event(conn, case_id, actor=actor, kind="routed", detail=detail)
        placed = await place_case(conn, settings, case_id, states=REROUTABLE)
    # No placement: the case already waits in an unsent notice, which goes out as it is.
    return {
        "action": "route",
        **detail,
        "notice_id": placed.notice_id if placed else None,
        "recipient": placed.recipient if placed else None,
        "due_at": placed.due_at if placed else None,
    }


async def _check_routable(
    conn: asyncpg.Connection, case_id: int, state: CaseState, address: str
) -> None:
    if state not in ROUTABLE:
        raise ActionRefused(f"a case that is {state} is not routed by hand")
    if await notify_repo.failing_among(conn, [address]):
        raise ActionRefused(f"{address} is marked failing (it bounced or refused a notice)")
    if await oversight_repo.hold_covering_case(conn, case_id) is not None:
        raise ActionRefused("a law-enforcement hold covers this case")


@dataclass(frozen=True)
class CaseAction:
    """One analyst action on a case, as a page, the API or the CLI asks for it."""

    case_id: int
    action: str
    actor: str
    note: str = ""
    supervisor: bool = False
    address: str | None = None


Handler = Callable[[asyncpg.Connection, CaseAction, "Context"], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Context:
    settings: Settings
    policies: Policies
    now: datetime


async def act_on_case(
    conn: asyncpg.Connection,
    request: CaseAction,
    settings: Settings,
    policies: Policies,
    now: datetime,
) -> Mapping[str, Any]:
    """Carry out one named action (LadderError or an ActionRefused kind when it cannot)."""
    handler = ACTIONS.get(request.action)
    if handler is None:
        raise UnknownAction(f"unknown action {request.action!r}")
    return await handler(conn, request, Context(settings, policies, now))


async def _ladder(conn: asyncpg.Connection, r: CaseAction, ctx: Context) -> dict[str, Any]:
    return await ladder_action(
        conn,
        r.case_id,
        Action(r.action),
        ctx.policies.ladder,
        actor=r.actor,
        now=ctx.now,
        note=r.note,
    )


async def _review(conn: asyncpg.Connection, r: CaseAction, ctx: Context) -> dict[str, Any]:
    answer = r.action.removeprefix("review_")
    count = await review_answers(conn, r.case_id, [answer], actor=r.actor, note=r.note)
    return {"action": r.action, "reviewed": count}


async def _review_replies(conn: asyncpg.Connection, r: CaseAction, ctx: Context) -> dict[str, Any]:
    count = await mail.review_replies(conn, r.case_id, actor=r.actor, note=r.note)
    return {"action": r.action, "reviewed": count}


async def _confirm_dispute(conn: asyncpg.Connection, r: CaseAction, ctx: Context) -> dict[str, Any]:
    return await withdraw.confirm_dispute(conn, ctx.settings, r.case_id, actor=r.actor, note=r.note)


async def _reject_dispute(conn: asyncpg.Connection, r: CaseAction, ctx: Context) -> dict[str, Any]:
    return await withdraw.reject_dispute(conn, r.case_id, actor=r.actor, note=r.note)


async def _hold(conn: asyncpg.Connection, r: CaseAction, ctx: Context) -> PlacedHold:
    if not r.supervisor:
        raise ActionForbidden("Holds are placed by supervisors.")
    reason = r.note or "law-enforcement hold"
    return await place_hold(conn, actor=r.actor, reason=reason, case_id=r.case_id)


async def _re_resolve(conn: asyncpg.Connection, r: CaseAction, ctx: Context) -> dict[str, Any]:
    return await re_resolve(conn, r.case_id, actor=r.actor, note=r.note)


async def _route(conn: asyncpg.Connection, r: CaseAction, ctx: Context) -> dict[str, Any]:
    if not r.address:
        raise ActionInvalid("route needs an address")
    return await route_to_address(
        conn, ctx.settings, r.case_id, r.address, actor=r.actor, note=r.note
    )


ACTIONS: dict[str, Handler] = {
    **{a.value: _ladder for a in Action},
    "review_not_ours": _review,
    "review_dispute": _review,
    "review_replies": _review_replies,
    "confirm_dispute": _confirm_dispute,
    "reject_dispute": _reject_dispute,
    "hold": _hold,
    "re_resolve": _re_resolve,
    "route": _route,
}


async def holds(pool: asyncpg.Pool) -> list[HoldRow]:
    """Holds, active first (the holds page, its API and `takedown hold list`)."""
    async with pool.acquire() as conn:
        return await oversight_repo.holds(conn)


# What the analysts' pages and API read: queue pages and one case's record.

QUEUES = oversight_repo.QUEUES
SORTS = oversight_repo.SORTS
QueueFilter = oversight_repo.QueueFilter
QueuePage = oversight_repo.Page


async def queue_page(
    pool: asyncpg.Pool,
    name: str,
    sla: SlaPolicy,
    filters: QueueFilter,
    *,
    sort: str,
    descending: bool,
    after: tuple[str, int] | None,
    limit: int,
) -> QueuePage:
    """One keyset page of an analyst queue, sorted and filtered (deadlines by the SLA)."""
    async with pool.acquire() as conn:
        return await oversight_repo.queue(
            conn, name, sla, filters, sort=sort, descending=descending, after=after, limit=limit
        )


async def case_overview(conn: asyncpg.Connection, case_id: int) -> dict[str, Any] | None:
    """The case as the analysts see it (None: no such case)."""
    return await oversight_repo.case_overview(conn, case_id)


@dataclass(frozen=True)
class CaseRecord:
    """Everything the case page shows, read on one connection."""

    overview: dict[str, Any]
    events: list[dict[str, Any]]
    notices: list[CaseNotice]
    checks: list[CaseCheck]
    handoffs: list[CaseHandoff]
    answers: list[CaseAnswer]
    replies: list[CaseReply]


async def case_record(pool: asyncpg.Pool, case_id: int) -> CaseRecord | None:
    """The case, its events, notices, checks, hand-offs, hosters' answers and mailed replies."""
    async with pool.acquire() as conn:
        overview = await oversight_repo.case_overview(conn, case_id)
        if overview is None:
            return None
        case = await cases.get_case(conn, case_id)
        return CaseRecord(
            overview=overview,
            events=(case or {}).get("events", []),
            notices=await oversight_repo.case_notices(conn, case_id),
            checks=await probe_repo.case_checks(conn, case_id),
            handoffs=await oversight_repo.case_handoffs(conn, case_id),
            answers=await oversight_repo.case_answers(conn, case_id),
            replies=await mail.case_replies(conn, case_id),
        )
