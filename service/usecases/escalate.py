"""The escalate sweep's work on each due case: reminders and the escalation ladder.

The 'escalate' stage (service/workers/escalate_stage.py) runs `Sweep.run` on its schedule.
Each run first puts cases covered by hoster/domain holds on hold (new arrivals), then plans
every case whose ladder is due with the pure policy of service.domain.escalation, one case per
transaction (`Sweep.case`): a reminder joins the recipient's reminder batch (one digest per
recipient and slot), a ladder step joins the step recipient's escalation batch, both sent by
the 'notify' stage; the last step is a law-enforcement hand-off record. Every reminder and
step is an event on the case; the first step moves it to 'escalated'.

The upstream step needs the upstream provider's desk, which resolution does not look up: for
a route without it the sweep asks the 'upstream' stage (an 'upstream' job; no network I/O in
the sweep's transactions) and the case's ladder waits until the answer makes it due again,
or at most LOOKUP_PATIENCE (service.domain.upstream.ladder_upstream).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from service.db import cases, jobs, notify_repo, oversight_repo, resolve_repo
from service.db.aggregates import fold_counts
from service.domain.escalation import (
    CaseClock,
    Ladder,
    LadderPolicy,
    RouteContacts,
    Step,
    after_reminder,
    after_step,
    plan,
    reminder_due_at,
    step_target,
    unusable_targets,
    wake_at,
)
from service.domain.notices import choose_language
from service.domain.sla import SlaPolicy
from service.domain.states import CaseState
from service.domain.upstream import UpstreamReadiness, ladder_upstream, lookup_requested
from service.settings import Settings
from service.usecases import oversee

ACTOR = "worker:escalate"
BATCH = 500
KIND = "escalate"
RETENTION_REF = 1  # the retention job (the sweep is oversee.SWEEP_REF, 0)


@dataclass(frozen=True)
class SweepRound:
    """What one run did: the database's time, whether more cases were due than one batch,
    and the earliest ladder wake-up left (None: no case waits)."""

    now: datetime
    more: bool
    wake: datetime | None


class Sweep:
    """Reminders and ladder steps, by the SLA and ladder policies."""

    def __init__(self, settings: Settings, sla: SlaPolicy, policy: LadderPolicy) -> None:
        self.settings = settings
        self.sla = sla
        self.policy = policy

    async def run(self, pool: asyncpg.Pool, *, keep_retention_job: bool) -> SweepRound:
        """Apply holds, then every due case (at most BATCH), each in its own transaction."""
        async with pool.acquire() as conn:
            now = await cases.database_now(conn)
            if keep_retention_job:
                await jobs.ensure_ref_job(conn, KIND, RETENTION_REF)
            await oversee.apply_holds(conn, actor=ACTOR)
            # The statistics' triggers leave their counts pending (migration 0211); folding
            # them here too keeps what the next statistics read has to fold small.
            await fold_counts(conn)
            due = await oversight_repo.sweep_due(conn, now, BATCH)
            for row in due:
                await self.case(conn, row, now)
            if len(due) == BATCH:
                return SweepRound(now, more=True, wake=None)
            return SweepRound(now, more=False, wake=await oversight_repo.next_wake(conn))

    async def case(self, conn: asyncpg.Connection, row: dict[str, Any], now: datetime) -> None:
        """Plan one case and carry out what is due, atomically."""
        async with conn.transaction():
            state = await cases.state_for_update(conn, row["id"])
            ladder = await oversight_repo.ladder_for_update(conn, row["id"])
            deadline = self.sla.deadline(row["first_notice_at"], row["country"], row["hoster"])
            clock = CaseClock(state, row["first_notice_at"], row["last_notice_at"], deadline)
            decision = plan(clock, ladder, self.policy, now)
            if decision.remind:
                await self.remind(conn, row)
                ladder = after_reminder(ladder, now)
            step = decision.step
            wake = wake_at(clock, ladder, self.policy)
            while step is not None:
                note = None
                if step is Step.UPSTREAM:
                    ready = await self.upstream_ready(conn, row["id"], ladder, now)
                    if ready.action != "go":  # waits for the lookup: the step stays due
                        wake = _earliest(ready.until, reminder_due_at(clock, ladder, self.policy))
                        break
                    note = ready.note
                delivered = await self.climb(conn, row, step, ladder, note)
                ladder = after_step(ladder, self.policy, now, delivered=delivered)
                step = None if delivered else plan(clock, ladder, self.policy, now).step
                wake = wake_at(clock, ladder, self.policy)
            await oversight_repo.save_ladder(conn, row["id"], ladder, wake)

    async def upstream_ready(
        self, conn: asyncpg.Connection, case_id: int, ladder: Ladder, now: datetime
    ) -> UpstreamReadiness:
        """Whether the upstream step can be taken; asks for the lookup when it was not yet."""
        route = await resolve_repo.upstream_subject(conn, case_id)
        if route is None:
            return UpstreamReadiness("go")
        ready = ladder_upstream(
            route["recipients"] or [], bool(route["ip_addresses"]), route["upstream_lookup"], now
        )
        if ready.action == "request":
            await resolve_repo.request_upstream(conn, case_id, lookup_requested(now))
            await jobs.enqueue_for_case(conn, "upstream", case_id)
            detail = {"step": Step.UPSTREAM.value, "rung": ladder.next_step + 1}
            await cases.add_event(
                conn, case_id, actor=ACTOR, kind="upstream_lookup_requested", detail=detail
            )
        return ready

    async def remind(self, conn: asyncpg.Connection, row: dict[str, Any]) -> None:
        """One reminder to each desk that got the case's first notice: a host served from
        several networks has a desk per network, and each is reminded of its own notice."""
        for target in await oversight_repo.reminder_targets(conn, row["id"]):
            notice_id = await self._enqueue_notice(
                conn,
                row["id"],
                "reminder",
                target["recipient"],
                target["role"],
                row["country"],
                target["language"],
                cc=tuple(target["cc"] or ()),
            )
            detail = {"notice_id": notice_id, "recipient": target["recipient"]}
            if target["cc"]:
                detail["cc"] = list(target["cc"])
            await cases.add_event(conn, row["id"], actor=ACTOR, kind="reminder", detail=detail)
        # No target: it never reached anyone directly (e.g. through a rerouted batch).

    async def climb(
        self,
        conn: asyncpg.Connection,
        row: dict[str, Any],
        step: Step,
        ladder: Ladder,
        note: str | None = None,
    ) -> bool:
        """Carry out one step; False when it had nobody to write to (skipped). `note`: what
        the upstream lookup came to, told with a skipped upstream step's reason."""
        detail: dict[str, Any] = {"step": step.value, "rung": ladder.next_step + 1}
        if ladder.triggered:
            detail["triggered"] = True
        if step is Step.LAW_ENFORCEMENT:
            detail["handoff_id"] = await oversight_repo.insert_handoff(
                conn, row["id"], step.value, None, _handoff_detail(row), ACTOR
            )
        else:
            contacted = await oversight_repo.contacted(conn, row["id"])
            target = step_target(step, RouteContacts.from_route(row), contacted)
            if target is None:
                detail["reason"] = "no contact known for this step (or already notified)"
                unusable = unusable_targets(step, RouteContacts.from_route(row))
                if unusable:
                    detail["reason"] += "; not a valid mail address: " + ", ".join(unusable)
                if note:
                    detail["reason"] += f"; {note}"
                await cases.add_event(
                    conn, row["id"], actor=ACTOR, kind="escalation_skipped", detail=detail
                )
                return False
            detail["recipient"] = target
            detail["notice_id"] = await self._enqueue_notice(
                conn, row["id"], "escalation", target, step.value, row["country"], None
            )
        await self._escalated(conn, row["id"], detail)
        return True

    async def _escalated(
        self, conn: asyncpg.Connection, case_id: int, detail: dict[str, Any]
    ) -> None:
        moved = await cases.transition(
            conn,
            case_id,
            CaseState.ESCALATED,
            actor=ACTOR,
            kind="escalation_step",
            detail=detail,
            expect={CaseState.NOTIFIED, CaseState.ACKNOWLEDGED},
        )
        if moved is None:  # escalated already: the step is an event of its own
            await cases.add_event(conn, case_id, actor=ACTOR, kind="escalation_step", detail=detail)

    async def _enqueue_notice(
        self,
        conn: asyncpg.Connection,
        case_id: int,
        kind: str,
        recipient: str,
        role: str,
        country: str | None,
        language: str | None,
        cc: tuple[str, ...] = (),
    ) -> int:
        notice_id, created_at = await notify_repo.open_batch(
            conn,
            recipient=recipient,
            kind=kind,
            role=role,
            language=choose_language(language, country),
            country=country,
            mail_from=self.settings.mail_from,
            cc=cc,
        )
        await notify_repo.add_item(conn, notice_id, case_id)
        due = created_at + self.settings.notice_gather_window
        await jobs.enqueue_for_ref(conn, "notify", notice_id, run_at=due)
        return notice_id


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _handoff_detail(row: dict[str, Any]) -> dict[str, Any]:
    """What the referral states: where and since when, never the material."""
    first = row["first_notice_at"]
    return {
        "hoster": row["hoster"],
        "country": row["country"],
        "host": row["host"],
        "first_notice_at": first.isoformat() if first else None,
        "reason": "known content still served after every escalation step",
    }
