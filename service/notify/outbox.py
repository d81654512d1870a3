"""Aggregation: cases become items of the open notice batch of their best working contact.

Items for one recipient gather for `settings.notice_gather_window` and leave as one message
(split at `settings.notice_max_urls`). When a contact fails for good, its items move to the
next ranked contact, then the registrar, then the hotline's own queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from service.db import cases, jobs, notify_repo
from service.domain.notices import (
    choose_language,
    choose_recipient,
    parse_recipients,
    registrar_recipient,
)
from service.domain.states import CaseState
from service.settings import Settings

ACTOR = "worker:outbox"
# States in which a case still needs (another) notice: freshly resolved, or content back.
NEEDS_NOTICE = frozenset({CaseState.RESOLVED, CaseState.REAPPEARED})
# States in which a failed delivery is moved on to the next contact.
REROUTABLE = NEEDS_NOTICE | {CaseState.NOTIFIED, CaseState.ACKNOWLEDGED, CaseState.ESCALATED}


@dataclass(frozen=True)
class Placement:
    """Where a case went: a notice batch (with its send time) or the hotline queue."""

    notice_id: int | None
    recipient: str | None
    due_at: datetime | None
    reason: str | None = None


async def place_case(
    conn: asyncpg.Connection,
    settings: Settings,
    case_id: int,
    *,
    kind: str = "notice",
    states: frozenset[CaseState] = NEEDS_NOTICE,
) -> Placement | None:
    """Add the case to its best recipient's open batch; None when it needs no notice now."""
    async with conn.transaction():
        case = await notify_repo.case_for_outbox(conn, case_id)
        if case is None or CaseState(case["state"]) not in states:
            return None
        if await notify_repo.case_in_flight(conn, case_id, kind):
            return None
        return await _place(conn, settings, case, kind)


async def _place(
    conn: asyncpg.Connection, settings: Settings, case: dict[str, Any], kind: str
) -> Placement:
    ranked = parse_recipients(case["recipients"] or [])
    registrar = registrar_recipient(case["registrar"])
    addresses = [r.address for r in ranked] + ([registrar.address] if registrar else [])
    failing = await notify_repo.failing_among(conn, addresses)
    chosen = choose_recipient(ranked, registrar, failing)
    if chosen is None:
        reason = "no working contact" if addresses else "no contact known"
        await to_hotline_queue(conn, case["id"], CaseState(case["state"]), reason, failing)
        return Placement(None, None, None, reason)
    notice_id, created_at = await notify_repo.open_batch(
        conn,
        recipient=chosen.address,
        kind=kind,
        role=chosen.role,
        language=choose_language(chosen.language, case["country"]),
        country=case["country"],
        mail_from=settings.mail_from,
    )
    await notify_repo.add_item(conn, notice_id, case["id"])
    due_at = created_at + settings.notice_gather_window
    await jobs.enqueue_for_ref(conn, "notify", notice_id, run_at=due_at)
    return Placement(notice_id, chosen.address, due_at)


async def to_hotline_queue(
    conn: asyncpg.Connection, case_id: int, state: CaseState, reason: str, failing: set[str]
) -> None:
    """Nobody left to notify: the hotline handles the case (unresolved when still possible)."""
    detail = {"reason": reason, "failing_contacts": sorted(failing)}
    if state is CaseState.RESOLVED:
        await cases.transition(
            conn,
            case_id,
            CaseState.UNRESOLVED,
            actor=ACTOR,
            kind="no_contact",
            detail=detail,
            expect=CaseState.RESOLVED,
        )
    else:
        await cases.add_event(conn, case_id, actor=ACTOR, kind="hotline_queue", detail=detail)


async def reroute(
    conn: asyncpg.Connection, settings: Settings, notice: dict[str, Any], reason: str
) -> list[Placement]:
    """Move the items of a notice whose recipient failed to their next contacts."""
    placements = []
    for case_id in await notify_repo.item_case_ids(conn, notice["id"]):
        await cases.add_event(
            conn,
            case_id,
            actor=ACTOR,
            kind="contact_failed",
            detail={
                "notice_id": notice["id"],
                "recipient": notice["recipient"],
                "reason": reason[:500],
            },
        )
        placed = await place_case(conn, settings, case_id, kind=notice["kind"], states=REROUTABLE)
        if placed is not None:
            placements.append(placed)
    return placements
