"""The hotline's mailbox in the database: notices matched, mail recorded, replies listed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

import asyncpg

from service.db.queries import q

NoticeRow = dict[str, Any]


async def notice(conn: asyncpg.Connection, notice_id: int) -> NoticeRow | None:
    row = await conn.fetchrow(q("mail_notice"), notice_id)
    return dict(row) if row else None


async def notice_by_message_ids(
    conn: asyncpg.Connection, message_ids: list[str]
) -> NoticeRow | None:
    if not message_ids:
        return None
    row = await conn.fetchrow(q("mail_notice_by_message_ids"), message_ids)
    return dict(row) if row else None


async def notice_by_reference(
    conn: asyncpg.Connection, notice_id: int, sender_domain: str
) -> NoticeRow | None:
    row = await conn.fetchrow(q("mail_notice_by_reference"), notice_id, sender_domain)
    return dict(row) if row else None


async def notice_cases(conn: asyncpg.Connection, notice_id: int) -> list[int]:
    return [r["case_id"] for r in await conn.fetch(q("mail_notice_cases"), notice_id)]


async def cases_by_reference(
    conn: asyncpg.Connection, case_ids: list[int], notice_id: int
) -> list[int]:
    rows = await conn.fetch(q("mail_cases_by_reference"), case_ids, notice_id)
    return [r["case_id"] for r in rows]


async def seen(conn: asyncpg.Connection, message_id: str | None, fingerprint: str) -> bool:
    return bool(await conn.fetchval(q("mail_seen"), message_id, fingerprint))


async def lock_notice(conn: asyncpg.Connection, notice_id: int) -> None:
    await conn.execute(q("mail_lock_notice"), notice_id)


async def lock_cases(conn: asyncpg.Connection, case_ids: list[int]) -> None:
    await conn.execute(q("mail_lock_cases"), case_ids)


async def lock_cases_found(conn: asyncpg.Connection, case_ids: list[int]) -> list[int]:
    """Lock the cases as lock_cases does; the ids of those that exist."""
    return [r["id"] for r in await conn.fetch(q("mail_lock_cases"), case_ids)]


async def record(conn: asyncpg.Connection, mail: dict[str, Any], case_ids: list[int]) -> int | None:
    """Record a mail and the cases it concerns; None when it was recorded before."""
    mail_id: int | None = await conn.fetchval(
        q("mail_record"),
        mail["message_id"],
        mail["kind"],
        mail["notice_id"],
        mail["matched_by"],
        mail["sender"],
        mail["subject"],
        mail["ticket"],
        mail["body_text"],
        mail["truncated"],
        mail["attachments"],
        mail["outcome"],
        mail["fingerprint"],
    )
    if mail_id is not None and case_ids:
        await conn.execute(q("mail_link_cases"), mail_id, case_ids)
    return mail_id


class IncomingText(TypedDict):
    """What is kept of a reply or auto-reply to show it (text only, never its bytes)."""

    id: int
    received_at: datetime
    kind: str
    sender: str | None
    subject: str
    ticket: str | None
    body_text: str
    truncated: bool
    attachments: list[dict[str, Any]]


# A reply or auto-reply that matched no notice, as the analysts' unmatched-mail page shows it.
UnmatchedMail = IncomingText


class CaseReply(IncomingText):
    """A reply or auto-reply about a case as the case page shows it."""

    notice_id: int | None
    matched_by: str | None
    reviewed_at: datetime | None
    reviewed_by: str | None
    purged_at: datetime | None


class SetAsideMail(TypedDict):
    """Mail given up on after repeated failures to take it in."""

    fingerprint: str
    channel: str
    message_id: str | None
    attempts: int
    error: str
    first_failed_at: datetime
    last_failed_at: datetime
    set_aside_at: datetime


async def case_replies(conn: asyncpg.Connection, case_id: int) -> list[CaseReply]:
    rows = await conn.fetch(q("mail_case_replies"), case_id)
    return [cast(CaseReply, dict(r)) for r in rows]


async def review_case(conn: asyncpg.Connection, case_id: int, analyst: str) -> int:
    return len(await conn.fetch(q("mail_review_case"), case_id, analyst))


async def counts(conn: asyncpg.Connection) -> dict[str, int]:
    return {r["kind"]: r["n"] for r in await conn.fetch(q("mail_counts"))}


async def count_failure(
    conn: asyncpg.Connection,
    fingerprint: str,
    channel: str,
    message_id: str | None,
    error: str,
    max_attempts: int,
) -> int:
    """One more failed attempt at a mail; its attempts so far (set aside at `max_attempts`)."""
    attempts: int = await conn.fetchval(
        q("mail_count_failure"), fingerprint, channel, message_id, error, max_attempts
    )
    return attempts


async def set_aside(conn: asyncpg.Connection, limit: int = 100) -> list[SetAsideMail]:
    return [cast(SetAsideMail, dict(r)) for r in await conn.fetch(q("mail_set_aside"), limit)]


async def set_aside_count(conn: asyncpg.Connection) -> int:
    n: int = await conn.fetchval(q("mail_set_aside_count"))
    return n


async def unmatched(conn: asyncpg.Connection, limit: int = 100) -> list[UnmatchedMail]:
    return [cast(UnmatchedMail, dict(r)) for r in await conn.fetch(q("mail_unmatched"), limit)]


async def attach(conn: asyncpg.Connection, mail_id: int, analyst: str) -> dict[str, Any] | None:
    """Mark waiting mail as attached by `analyst`; its kind, ticket and attachment count,
    or None when it is not waiting (unknown, matched, attached or dismissed before)."""
    row = await conn.fetchrow(q("mail_attach"), mail_id, analyst)
    return dict(row) if row else None


async def link_cases(conn: asyncpg.Connection, mail_id: int, case_ids: list[int]) -> None:
    await conn.execute(q("mail_link_cases"), mail_id, case_ids)


async def dismiss(
    conn: asyncpg.Connection, mail_id: int, analyst: str, note: str
) -> dict[str, Any] | None:
    row = await conn.fetchrow(q("mail_dismiss"), mail_id, analyst, note)
    return dict(row) if row else None


class MailGauges(TypedDict):
    by_kind: dict[str, int]
    unmatched: int
    set_aside: int
    newest: datetime | None


async def gauges(conn: asyncpg.Connection) -> MailGauges:
    row = await conn.fetchrow(q("mail_gauges"))
    return cast(MailGauges, dict(row))
