"""Withdrawing cases: a confirmed dispute, or a supervisor withdrawing a hash.

A withdrawn case stops for good (terminal state `withdrawn`, stamped `withdrawn_at`): it
leaves every notice not yet sent (a notice left empty is cancelled), its escalation ladder has
nothing due any more, and its re-check job ends the next time it is claimed (the probe stage
checks only open states). Everyone already told about it — main recipients of sent notices,
reminders and escalations, with the copies those went to — gets one short withdrawal notice
per address, sent by the notify stage like any notice. Every step is an event on the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from service.db import cases, jobs, oversight_repo, partners_repo, withdraw_repo
from service.db.connect import database_url
from service.db.pool import pool_for
from service.db.withdraw_repo import WithdrawnHash
from service.domain.states import WITHDRAWABLE, CaseState
from service.domain.withdrawal import (
    DISPUTE_CONFIRMED,
    HASH_WITHDRAWN,
    SCANNER_WITHDRAWN,
    InvalidHashSpec,
    clean_reason,
    parse_hash_spec,
)
from service.settings import Settings
from service.usecases.refusals import ActionRefused

PARTNERS_JOB = "partners"  # the kind service.usecases.partners works (it imports this module)

__all__ = [
    "ActionRefused",
    "InvalidHashSpec",
    "Withdrawal",
    "confirm_dispute",
    "reject_dispute",
    "withdraw_cases",
    "withdraw_hash",
    "withdraw_hash_command",
    "withdraw_report",
    "withdrawn_hashes",
]


@dataclass
class Withdrawal:
    """What a withdrawal did."""

    withdrawn: list[int] = field(default_factory=list)
    notices_cancelled: int = 0
    withdrawal_notices: list[int] = field(default_factory=list)
    partners_told: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cases_withdrawn": len(self.withdrawn),
            "case_ids": self.withdrawn,
            "notices_cancelled": self.notices_cancelled,
            "withdrawal_notices": len(self.withdrawal_notices),
            "partners_told": len(self.partners_told),
        }


async def withdraw_cases(
    conn: asyncpg.Connection,
    settings: Settings,
    case_ids: list[int],
    *,
    actor: str,
    detail: dict[str, Any],
) -> Withdrawal:
    """Withdraw the cases not withdrawn yet (in the caller's transaction, or its own)."""
    done = Withdrawal()
    async with conn.transaction():
        moved = await cases.transition_many(
            conn, case_ids, CaseState.WITHDRAWN, actor=actor, kind="withdrawn",
            expect=set(WITHDRAWABLE), detail=detail, stamp="withdrawn_at",
        )  # fmt: skip
        done.withdrawn = sorted(moved)
        if not moved:
            return done
        unsent = await withdraw_repo.cancel_unsent(conn, done.withdrawn, "cancelled: withdrawn")
        done.notices_cancelled = unsent["cancelled"]
        await withdraw_repo.quiet_ladders(conn, done.withdrawn)
        done.withdrawal_notices = await _tell_the_notified(conn, settings, done.withdrawn, actor)
        if not actor.startswith("partner:"):  # a partner's own withdrawal needs no echo
            done.partners_told = await _tell_the_partners(conn, done.withdrawn)
    return done


async def _tell_the_partners(conn: asyncpg.Connection, case_ids: list[int]) -> list[int]:
    """Cases a partner hotline's instance took are withdrawn there too: the 'partners' stage
    passes each on (service.usecases.partners.submit), retrying while the partner is down."""
    handed = await partners_repo.submitted_among(conn, case_ids)
    await jobs.enqueue_for_cases(conn, PARTNERS_JOB, handed)
    return handed


async def _tell_the_notified(
    conn: asyncpg.Connection, settings: Settings, case_ids: list[int], actor: str
) -> list[int]:
    """One withdrawal notice to each address that was told about these cases."""
    notices = []
    for party in await withdraw_repo.notified_parties(conn, case_ids):
        notice_id = await withdraw_repo.insert_withdrawal_notice(conn, party, settings.mail_from)
        await jobs.enqueue_for_ref(conn, "notify", notice_id)
        detail = {"notice_id": notice_id, "recipient": party.recipient, "cc": party.cc}
        await cases.add_events(
            conn, party.case_ids, actor=actor, kind="withdrawal_notice", detail=detail
        )
        notices.append(notice_id)
    return notices


async def withdraw_report(
    pool: asyncpg.Pool,
    settings: Settings,
    case_id: int,
    *,
    scanner_id: int,
    scanner_name: str,
    note: str,
) -> Withdrawal | None:
    """The scanner that reported case `case_id` takes it back (its match was wrong): the case
    is withdrawn as by a hash withdrawal, with the reason `scanner_withdrawn`. None when the
    case is not this scanner's (it must not learn whether it exists). Taking back a case
    withdrawn before changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        if await withdraw_repo.reporter_of(conn, case_id) != scanner_id:
            return None
        detail = {"withdrawal": SCANNER_WITHDRAWN, "note": clean_reason(note)}
        return await withdraw_cases(
            conn, settings, [case_id], actor=f"scanner:{scanner_name}", detail=detail
        )


async def confirm_dispute(
    conn: asyncpg.Connection, settings: Settings, case_id: int, *, actor: str, note: str = ""
) -> dict[str, Any]:
    """The analyst agrees with the hoster's dispute: the case is withdrawn (a false positive)."""
    async with conn.transaction():
        state = await cases.state_for_update(conn, case_id)
        disputes = await withdraw_repo.dispute_answers(conn, case_id)
        if not disputes:
            raise ActionRefused("there is no open dispute on this case")
        if state not in WITHDRAWABLE:
            raise ActionRefused(f"a case that is {state} cannot be withdrawn")
        await oversight_repo.review_answers(conn, case_id, ["dispute"])
        detail = {
            "withdrawal": DISPUTE_CONFIRMED,
            "dispute_reason": disputes[-1]["dispute_reason"],
            "answer_ids": [d["id"] for d in disputes],
            "note": clean_reason(note, 500),
        }
        done = await withdraw_cases(conn, settings, [case_id], actor=actor, detail=detail)
    return {"action": "confirm_dispute", "from_state": state.value, **done.as_dict()}


async def reject_dispute(
    conn: asyncpg.Connection, case_id: int, *, actor: str, note: str = ""
) -> dict[str, Any]:
    """The analyst holds to the match: the dispute leaves the queue and the case goes on."""
    async with conn.transaction():
        await cases.state_for_update(conn, case_id)
        disputes = await withdraw_repo.dispute_answers(conn, case_id)
        if not disputes:
            raise ActionRefused("there is no open dispute on this case")
        await oversight_repo.review_answers(conn, case_id, ["dispute"])
        detail = {"answer_ids": [d["id"] for d in disputes], "note": clean_reason(note, 500)}
        await cases.add_event(conn, case_id, actor=actor, kind="dispute_rejected", detail=detail)
    return {"action": "reject_dispute", "reviewed": len(disputes)}


async def withdraw_hash(
    pool: asyncpg.Pool, settings: Settings, spec: str, *, reason: str, actor: str
) -> dict[str, Any]:
    """Withdraw a hash (`sha256:<hex>`, …): every case with it, and its later reports.

    InvalidHashSpec when `spec` is not a hash; ValueError when the reason is empty. A second
    pass after the first commit catches a case created by a report that was being stored at
    that very moment (the intake checked the hash just before the withdrawal committed).
    """
    hash_spec = parse_hash_spec(spec)
    text = clean_reason(reason)
    if not text:
        raise ValueError("a withdrawal needs a reason")
    total, created = Withdrawal(), False
    for _pass in range(2):
        async with pool.acquire() as conn, conn.transaction():
            row = await withdraw_repo.record_hash(
                conn, hash_spec.algorithm, hash_spec.digest, text, actor
            )
            ids = await withdraw_repo.cases_with_hash(conn, hash_spec.algorithm, hash_spec.digest)
            detail = {
                "withdrawal": HASH_WITHDRAWN,
                "hash": str(hash_spec),
                "withdrawal_id": row["id"],
            }
            done = await withdraw_cases(conn, settings, ids, actor=actor, detail=detail)
            await withdraw_repo.count_hash(conn, row["id"], len(done.withdrawn))
        created = created or bool(row["created"])
        total.withdrawn += done.withdrawn
        total.notices_cancelled += done.notices_cancelled
        total.withdrawal_notices += done.withdrawal_notices
        total.partners_told += done.partners_told
    return {
        "id": row["id"],
        "hash": str(hash_spec),
        "reason": row["reason"],
        "created_by": row["created_by"],
        "created_at": row["created_at"],
        "already_withdrawn": not created,
        **total.as_dict(),
    }


async def withdrawn_hashes(pool: asyncpg.Pool, limit: int = 500) -> list[WithdrawnHash]:
    """The withdrawn hashes, newest first (the oversight pages and the API list them)."""
    async with pool.acquire() as conn:
        return await withdraw_repo.withdrawn_hashes(conn, limit)


async def withdraw_hash_command(
    settings: Settings, spec: str, *, reason: str, actor: str
) -> dict[str, Any]:
    """`withdraw_hash` for the command line: its own short-lived pool."""
    dsn = database_url(settings)
    async with pool_for(dsn, min_size=1, max_size=2, retry_for=settings.db_connect_timeout) as pool:
        return await withdraw_hash(pool, settings, spec, reason=reason, actor=actor)
