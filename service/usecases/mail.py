"""The hotline's mailbox: each incoming mail understood and attached to what it is about.

- A **bounce** is matched to its notice by its VERP envelope recipient, else by the returned
  Message-ID, and acted on like any delivery failure (`notify.bounces`).
- An **auto-reply** (RFC 3834, a ticket system's acknowledgment) records `auto-acknowledged`
  on the notice's cases, with the ticket reference. It is not an acknowledgment of removal.
- A **reply** from a person is attached to the notice's cases (by VERP address, In-Reply-To /
  References, or the notice's reference in the subject when the sender's domain is the
  recipient's) and waits in the analysts' `replies` queue.
- A reply or auto-reply that matches **no notice** waits on the analysts' unmatched-mail page
  until one attaches it to a case (then it is that case's reply, as if matched) or dismisses it.

Nothing here changes a case's state. What is kept of a mail: sender, subject, ticket, its text
up to TAKEDOWN_MAIL_IN_TEXT_CAP, and of each attachment its media type, size and SHA-256; never
the attachment's bytes or name, never the raw mail (which may carry the very material).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from email.message import Message
from typing import Any

import asyncpg

from service import observability
from service.db import cases as case_store
from service.db import mail_repo
from service.db.connect import database_url
from service.db.mail_repo import CaseReply, MailGauges, SetAsideMail, UnmatchedMail
from service.db.pool import is_outage, pool_for
from service.errors import NotFound, TakedownError
from service.notify.bounces import apply_to_notice
from service.notify.incoming import Incoming, classify
from service.notify.mailbox import SetAside
from service.notify.returned import envelope_addresses, parse_message, read_bounce
from service.notify.verp import notice_of
from service.settings import Settings

log = logging.getLogger(__name__)
ACTOR = "mail-in"
AUTO_ACKNOWLEDGED = "auto-acknowledged"
REPLY_EVENT = "mail_reply"
_NOTICE_REF = re.compile(r"\bTT-N(\d{6,12})\b", re.IGNORECASE)
_CASE_REF = re.compile(r"\bTT-C(\d{7,12})\b", re.IGNORECASE)
_MESSAGE_ID_HEADER = re.compile(rb"(?im)^message-id:[ \t]*(<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>)")

Summary = dict[str, Any]
# The database's moment rather than the mail's fault: retried without counting.
_DATABASE_BUSY = (
    asyncpg.TransactionRollbackError,  # deadlock, serialization failure
    asyncpg.LockNotAvailableError,  # lock_timeout
    asyncpg.QueryCanceledError,  # statement_timeout
)


async def take_in(
    pool: asyncpg.Pool, settings: Settings, raw: bytes, recipients: Sequence[str] = ()
) -> Summary:
    """Understand one incoming mail (`recipients`: its envelope recipients when known, as
    over LMTP) and record it. Safe to repeat: a mail taken in before is recognised by its
    Message-ID, and a bounce handled before changes nothing."""
    message = parse_message(raw)
    if message is None:
        return {"kind": "unreadable", "action": "ignored"}
    incoming = classify(message, text_cap=settings.mail_in_text_cap)
    incoming.fingerprint = hashlib.sha256(raw).hexdigest()
    addresses = [*recipients, *envelope_addresses(message)]
    async with pool.acquire() as conn:
        if await mail_repo.seen(conn, incoming.message_id, incoming.fingerprint):
            return {"kind": incoming.kind, "action": "duplicate"}
        if incoming.kind == "bounce":
            return await _bounce(conn, settings, message, raw, incoming, addresses)
        return await _answer(conn, settings, incoming, addresses)


async def take_in_or_set_aside(
    pool: asyncpg.Pool,
    settings: Settings,
    raw: bytes,
    recipients: Sequence[str] = (),
    *,
    channel: str,
) -> Summary:
    """`take_in`, counting the failures of each mail: one that failed
    TAKEDOWN_MAIL_IN_MAX_ATTEMPTS times raises `SetAside` (the reader moves it to the
    quarantine folder, or refuses it for good over LMTP) instead of being retried forever.
    A database that is away or busy (deadlock, serialization failure, lock or statement
    timeout) is no fault of the mail: it is retried without counting. What is recorded
    of a failing mail is its fingerprint, Message-ID and the error's class, never its content."""
    try:
        return await take_in(pool, settings, raw, recipients)
    except Exception as exc:
        if is_outage(exc) or isinstance(exc, _DATABASE_BUSY):
            raise
        async with pool.acquire() as conn:
            attempts = await mail_repo.count_failure(
                conn,
                hashlib.sha256(raw).hexdigest(),
                channel,
                _message_id(raw),
                type(exc).__name__,
                settings.mail_in_max_attempts,
            )
        log.warning(
            "mail-in: a mail not taken in (%s), attempt %d of %d",
            type(exc).__name__,
            attempts,
            settings.mail_in_max_attempts,
        )
        if attempts >= settings.mail_in_max_attempts:
            raise SetAside(attempts) from None
        raise


def _message_id(raw: bytes) -> str | None:
    """The mail's Message-ID, to find it in the quarantine folder (None when unreadable)."""
    match = _MESSAGE_ID_HEADER.search(raw.partition(b"\r\n\r\n")[0].partition(b"\n\n")[0])
    return match.group(1).decode("ascii") if match else None


async def _bounce(
    conn: asyncpg.Connection,
    settings: Settings,
    message: Message,
    raw: bytes,
    incoming: Incoming,
    addresses: list[str],
) -> Summary:
    bounce = read_bounce(message, raw)
    notice, matched_by = None, None
    if (notice_id := notice_of(settings, addresses)) is not None:
        notice, matched_by = await mail_repo.notice(conn, notice_id), "verp"
        if notice is not None:
            notice["verp"] = True
    if notice is None:
        notice = await mail_repo.notice_by_message_ids(conn, bounce.message_ids)
        matched_by = "message_id" if notice is not None else None
    if notice is None:
        outcome: Summary = {"matched": False, "action": "ignored", "reason": "no notice matched"}
    else:
        outcome = await apply_to_notice(conn, settings, bounce, notice)
    if outcome.get("action") == "rerouted":  # counted once: a repeated bounce is "ignored"
        observability.NOTICES.labels(outcome="bounced").inc()
    await _record(conn, incoming, notice, matched_by, outcome)
    return {"kind": "bounce", "matched_by": matched_by, **outcome}


async def _answer(
    conn: asyncpg.Connection, settings: Settings, incoming: Incoming, addresses: list[str]
) -> Summary:
    notice, matched_by = await _notice_answered(conn, settings, incoming, addresses)
    case_ids = await _cases(conn, incoming, notice)
    event = AUTO_ACKNOWLEDGED if incoming.kind == "auto_reply" else REPLY_EVENT
    async with conn.transaction():
        if notice is not None:  # the notice before its cases, in the outbox's order
            await mail_repo.lock_notice(conn, notice["id"])
        await mail_repo.lock_cases(conn, case_ids)
        mail_id = await _record(conn, incoming, notice, matched_by, {}, case_ids=case_ids)
        if mail_id is None:
            return {"kind": incoming.kind, "action": "duplicate"}
        detail = {
            "mail_id": mail_id,
            "notice_id": notice["id"] if notice else None,
            "ticket": incoming.ticket,
            "attachments": len(incoming.attachments),
        }
        await case_store.add_events(conn, case_ids, actor=ACTOR, kind=event, detail=detail)
    log.info("mail-in: %s matched by %s, %d case(s)", incoming.kind, matched_by, len(case_ids))
    return {
        "kind": incoming.kind,
        "action": "recorded",
        "matched_by": matched_by,
        "notice_id": notice["id"] if notice else None,
        "cases": case_ids,
        "ticket": incoming.ticket,
    }


async def _notice_answered(
    conn: asyncpg.Connection, settings: Settings, incoming: Incoming, addresses: list[str]
) -> tuple[dict[str, Any] | None, str | None]:
    """The notice a reply answers, and how that was found."""
    if (notice_id := notice_of(settings, addresses)) is not None:
        notice = await mail_repo.notice(conn, notice_id)
        if notice is not None:
            return notice, "verp"
    notice = await mail_repo.notice_by_message_ids(conn, incoming.refers_to)
    if notice is not None:
        return notice, "message_id"
    domain = (incoming.sender or "").rpartition("@")[2]
    for match in _NOTICE_REF.finditer(incoming.subject):
        notice = await mail_repo.notice_by_reference(conn, int(match.group(1)), domain)
        if notice is not None:
            return notice, "subject"
    return None, None


async def _cases(
    conn: asyncpg.Connection, incoming: Incoming, notice: dict[str, Any] | None
) -> list[int]:
    """The notice's cases; only those the subject names when it names some of them."""
    if notice is None:
        return []
    named = [int(m.group(1)) for m in _CASE_REF.finditer(incoming.subject)]
    if named and (chosen := await mail_repo.cases_by_reference(conn, named, notice["id"])):
        return chosen
    return await mail_repo.notice_cases(conn, notice["id"])


async def _record(
    conn: asyncpg.Connection,
    incoming: Incoming,
    notice: dict[str, Any] | None,
    matched_by: str | None,
    outcome: Summary,
    *,
    case_ids: list[int] | None = None,
) -> int | None:
    if case_ids is None:
        case_ids = await mail_repo.notice_cases(conn, notice["id"]) if notice else []
    mail = {
        "message_id": incoming.message_id,
        "kind": incoming.kind,
        "notice_id": notice["id"] if notice else None,
        "matched_by": matched_by,
        "sender": incoming.sender,
        "subject": incoming.subject,
        "ticket": incoming.ticket,
        "body_text": incoming.text,
        "truncated": incoming.truncated,
        "attachments": [asdict(a) for a in incoming.attachments],
        "outcome": outcome,
        "fingerprint": incoming.fingerprint,
    }
    return await mail_repo.record(conn, mail, case_ids)


# --- queries for the pages and the CLI ----------------------------------------------------------


@asynccontextmanager
async def mailroom(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """The database pool `takedown mail-in` takes mail in with (embedded PostgreSQL when
    TAKEDOWN_DATABASE_URL is unset, as for every command)."""
    async with pool_for(
        database_url(settings), min_size=1, max_size=2, retry_for=settings.db_connect_timeout
    ) as pool:
        yield pool


async def case_replies(conn: asyncpg.Connection, case_id: int) -> list[CaseReply]:
    """Replies and auto-replies about a case, newest first (for the case page)."""
    return await mail_repo.case_replies(conn, case_id)


async def review_replies(
    conn: asyncpg.Connection, case_id: int, *, actor: str, note: str = ""
) -> int:
    """An analyst has read a case's replies: they leave the replies queue (an event says so).
    The number of replies marked."""
    async with conn.transaction():
        count = await mail_repo.review_case(conn, case_id, actor)
        detail = {"reviewed": count, "note": note[:500]}
        await case_store.add_event(
            conn, case_id, actor=actor, kind="replies_reviewed", detail=detail
        )
    return count


async def mail_counts(pool: asyncpg.Pool) -> dict[str, int]:
    """Mail taken in by kind, and `set_aside`: mail given up on after repeated failures."""
    async with pool.acquire() as conn:
        return {**await mail_repo.counts(conn), "set_aside": await mail_repo.set_aside_count(conn)}


async def mail_gauges(conn: asyncpg.Connection) -> MailGauges:
    """The mailbox as /metrics reports it: `takedown mail-in` runs as its own process, so its
    work is read from what it recorded rather than from its in-process counters."""
    return await mail_repo.gauges(conn)


async def set_aside_mail(pool: asyncpg.Pool, limit: int = 100) -> list[SetAsideMail]:
    """Mail set aside after repeated failures, latest first (for the analysts' page)."""
    async with pool.acquire() as conn:
        return await mail_repo.set_aside(conn, limit)


class MailNotWaiting(TakedownError):
    """The mail is unknown, was matched to a notice, or was attached or dismissed before."""


async def unmatched_mail(pool: asyncpg.Pool, limit: int = 100) -> list[UnmatchedMail]:
    """Replies and auto-replies that matched no notice and wait for an analyst, newest first."""
    async with pool.acquire() as conn:
        return await mail_repo.unmatched(conn, limit)


async def attach_mail(pool: asyncpg.Pool, mail_id: int, case_id: int, *, actor: str) -> Summary:
    """An analyst says which case unmatched mail is about: it is linked to the case and the
    case gets the event a matched mail gives it, so a reply lands in the `replies` queue."""
    async with pool.acquire() as conn, conn.transaction():
        if not await mail_repo.lock_cases_found(conn, [case_id]):
            raise NotFound(f"no case {case_id}")
        attached = await mail_repo.attach(conn, mail_id, actor)
        if attached is None:
            raise MailNotWaiting(f"mail {mail_id} is not waiting to be attached")
        await mail_repo.link_cases(conn, mail_id, [case_id])
        event = AUTO_ACKNOWLEDGED if attached["kind"] == "auto_reply" else REPLY_EVENT
        detail = {
            "mail_id": mail_id,
            "notice_id": None,
            "ticket": attached["ticket"],
            "attachments": attached["attachments"],
            "attached_by": actor,
        }
        await case_store.add_event(conn, case_id, actor=actor, kind=event, detail=detail)
    log.info("mail-in: mail %d attached to case %d by %s", mail_id, case_id, actor)
    return {"mail_id": mail_id, "case_id": case_id, "kind": attached["kind"]}


async def dismiss_mail(pool: asyncpg.Pool, mail_id: int, *, actor: str, note: str = "") -> Summary:
    """An analyst has read unmatched mail that concerns no case: it leaves the page; who and
    why are kept on the mail's row."""
    async with pool.acquire() as conn:
        dismissed = await mail_repo.dismiss(conn, mail_id, actor, note[:500])
    if dismissed is None:
        raise MailNotWaiting(f"mail {mail_id} is not waiting to be dismissed")
    log.info("mail-in: mail %d dismissed by %s", mail_id, actor)
    return {"mail_id": mail_id, **dismissed}
