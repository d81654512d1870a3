"""Send rounds: the database side of sending a batch of notices, in a few statements.

A round prepares many notices in one transaction (lock, seal — drop stale items, split what
exceeds the cap —, count the attempt, issue acknowledgment tokens, read the items) and later
records the accepted ones in one transaction (sent, contact health, the recipient's next
notice woken, cases on the notice clock, probe jobs). Per notice that was ~20 round trips to
the database; a round of any size takes about ten (a split or a refusal adds its own).

A notice is persisted with its Message-ID before any attempt; a crash between the mail
server's acceptance and `record_sent` leaves it 'sending', so the rerun sends the same message
again and records it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from service.db import jobs, notify_repo
from service.db.notify_repo import RoundItem
from service.domain.notices import deadline, split_batches
from service.domain.states import CaseState, check_transition
from service.notify import ack
from service.notify.compose import NoticeDraft
from service.notify.items import NoticeItem
from service.notify.outbox import NEEDS_NOTICE, REROUTABLE
from service.settings import Settings

ACTOR = "worker:notify"
# Items still worth notifying when a batch is sealed; open states include items moved here
# from a failed contact (already notified).
_WANTED = sorted(state.value for state in REROUTABLE)
Row = dict[str, Any]
_RECORD_TRIES = 3
_AWAITING = sorted(state.value for state in NEEDS_NOTICE)
for _state in NEEDS_NOTICE:  # the move notify_cases_notified makes must be an allowed one
    check_transition(_state, CaseState.NOTIFIED)


@dataclass(frozen=True)
class Attempt:
    """One notice about to be sent: its row (as locked) and everything the message says."""

    notice: dict[str, Any]
    draft: NoticeDraft


@dataclass
class Round:
    """What preparing a round decided: notices to send now, and those that must wait."""

    attempts: list[Attempt] = field(default_factory=list)
    behind: list[int] = field(default_factory=list)


async def prepare_round(
    conn: asyncpg.Connection, settings: Settings, notice_ids: list[int]
) -> Round:
    """Lock, seal/split, count the attempt and issue tokens for the notices `notice_ids`.

    Notices already sent or failed (or gone) are left out; a notice behind an earlier unsent
    one of its recipient is returned in `behind` (the earlier one wakes it when it leaves).
    """
    found = Round()
    async with conn.transaction():
        rows = await notify_repo.lock_round(conn, notice_ids)
        live = [r for r in rows if r["state"] not in ("sent", "failed", "cancelled")]
        found.behind = [r["id"] for r in live if r["behind"]]
        ready = [r for r in live if not r["behind"]]
        if not ready:
            return found
        sealing = [r["id"] for r in ready if r["sealed_at"] is None]
        items = await notify_repo.round_items(conn, [r["id"] for r in ready], sealing, _WANTED)
        ready = [r for r in ready if await _seal(conn, settings, r, items[r["id"]])]
        if ready:
            found.attempts = await _start(conn, settings, ready, items)
    return found


async def _seal(
    conn: asyncpg.Connection,
    settings: Settings,
    notice: dict[str, Any],
    items: list[RoundItem],
) -> bool:
    """First attempt of a notice: fail it when empty, split off what exceeds the cap."""
    if notice["sealed_at"] is not None:
        return True
    if not items:
        await notify_repo.mark_failed(conn, notice["id"], "no items left to notify")
        return False
    batches = split_batches([item["case_id"] for item in items], settings.notice_max_urls)
    for batch in batches[1:]:
        split_id = await notify_repo.split_off(conn, notice, batch, settings.mail_from)
        await jobs.enqueue_for_ref(conn, "notify", split_id)
    del items[len(batches[0]) :]  # the rows are in case order, like the split
    return True


async def _start(
    conn: asyncpg.Connection,
    settings: Settings,
    ready: list[dict[str, Any]],
    items: dict[int, list[RoundItem]],
) -> list[Attempt]:
    now: datetime = ready[0]["tx_now"]
    due = {
        r["id"]: deadline(now, r["country"], settings.sla_default, settings.sla_by_country)
        for r in ready
    }
    tokens = {r["id"]: ack.new_token() for r in ready}
    stored = {notice_id: token[1:] for notice_id, token in tokens.items()}
    fixed = await notify_repo.start_round(conn, due, stored, now + settings.ack_token_ttl)
    return [
        Attempt(r, _draft(settings, r, items[r["id"]], fixed[r["id"]], tokens[r["id"]][0]))
        for r in ready
    ]


def _draft(
    settings: Settings,
    notice: dict[str, Any],
    items: list[RoundItem],
    due: datetime,
    token: str,
) -> NoticeDraft:
    return NoticeDraft(
        notice_id=notice["id"],
        kind=notice["kind"],
        language=notice["language"],
        recipient=notice["recipient"],
        message_id=notice["message_id"],
        country=notice["country"],
        items=[NoticeItem.from_row(item) for item in items],
        deadline=due,
        ack_url=ack.ack_url(settings.public_url, token),
        created_at=notice["created_at"],
        cc=tuple(notice["cc"]),
    )


async def record_sent(
    conn: asyncpg.Connection, settings: Settings, attempts: list[Attempt]
) -> None:
    """The server accepted these notices: each is sent and its cases notified, once.

    The statistics triggers lock shared tally rows, so two workers recording at once can
    deadlock; the loser's transaction is rolled back whole and simply run again (a failed
    recording would resend every message of the round).
    """
    for attempt in range(_RECORD_TRIES):
        try:
            await _record(conn, settings, attempts)
            return
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            if attempt == _RECORD_TRIES - 1:
                raise


async def _record(conn: asyncpg.Connection, settings: Settings, attempts: list[Attempt]) -> None:
    async with conn.transaction():
        sending = await notify_repo.lock_sending(conn, [a.draft.notice_id for a in attempts])
        if not sending:
            return  # recorded by an earlier run already
        details = [
            (item.case_id, _detail(a.draft))
            for a in attempts
            if a.draft.notice_id in sending
            for item in a.draft.items
        ]
        # Cases go on the clock before their notices count as sent: the statistics triggers
        # then tally each notice once (per notice) instead of once per case (~2x cheaper).
        await notify_repo.cases_notified(conn, details, _AWAITING, ACTOR)
        gather = settings.notice_gather_window
        sent, following = await notify_repo.record_round(conn, sorted(sending), gather)
        await jobs.enqueue_for_refs(conn, "notify", dict(following))
        case_ids = [case_id for case_id, _ in details]
        await jobs.enqueue_for_cases(conn, "probe", case_ids, run_at=min(sent.values()))


def _detail(draft: NoticeDraft) -> dict[str, Any]:
    return {
        "notice_id": draft.notice_id,
        "message_id": draft.message_id,
        "recipient": draft.recipient,
        "cc": list(draft.cc),
        "kind": draft.kind,
        "deadline": draft.deadline.isoformat(),
    }


async def next_to_wake(conn: asyncpg.Connection, settings: Settings, recipient: str) -> None:
    """The recipient's next notice may go now that the one before it has left (or failed)."""
    following = await notify_repo.next_unsent(conn, recipient, settings.notice_gather_window)
    if following is not None:
        await jobs.enqueue_for_ref(conn, "notify", following[0], run_at=following[1])
