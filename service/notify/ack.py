"""Acknowledgment tokens and the answers hosters give with them.

A token is 256 random bits, shown only in the notice; the database keeps its SHA-256. It
expires (`settings.ack_token_ttl`) and opens exactly one notice. Answers are events on the
cases; "removed" asks for an immediate re-check and never closes a case by itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from service.db import cases, jobs, notify_repo
from service.domain.states import CaseState

TOKEN_BYTES = 32  # 256 bits
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
ANSWERS = ("received", "removed", "not_ours", "dispute")
DISPUTE_REASONS = ("lawful_content", "wrong_match")
ACK_STATES = {CaseState.NOTIFIED, CaseState.ESCALATED, CaseState.REAPPEARED}


@dataclass(frozen=True)
class AckToken:
    """A presented token that exists; `expired` says whether it may still be used."""

    digest: bytes
    notice_id: int
    language: str
    recipient: str
    csrf_secret: bytes
    expires_at: datetime
    expired: bool

    @property
    def csrf_token(self) -> str:
        return hmac.new(self.csrf_secret, b"ack-form", hashlib.sha256).hexdigest()

    def csrf_ok(self, presented: str) -> bool:
        return hmac.compare_digest(self.csrf_token.encode(), presented.encode("utf-8", "replace"))


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def ack_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/ack/{token}"


def new_token() -> tuple[str, bytes, bytes]:
    """A fresh token: (the secret written into the notice, its hash, its CSRF secret).

    Only the hash and the CSRF secret are stored; the token itself is shown once.
    """
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token), secrets.token_bytes(32)


async def issue(conn: asyncpg.Connection, notice_id: int, ttl: timedelta) -> str:
    """A new token for one notice; the secret is returned once and only its hash stored."""
    token, digest, csrf_secret = new_token()
    now = await cases.database_now(conn)
    await notify_repo.insert_ack_token(conn, digest, notice_id, csrf_secret, now + ttl)
    return token


async def lookup(conn: asyncpg.Connection, token: str) -> AckToken | None:
    """The token's record, or None for anything malformed or unknown (forged)."""
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    row = await notify_repo.token(conn, token_digest(token))
    if row is None:
        return None
    return AckToken(
        digest=row["sha256"],
        notice_id=row["notice_id"],
        language=row["language"],
        recipient=row["recipient"],
        csrf_secret=row["csrf_secret"],
        expires_at=row["expires_at"],
        expired=row["expired"],
    )


@dataclass(frozen=True)
class AnswerDetails:
    """What the desk wrote besides its choice. `responsible` (who the content belongs to)
    only means something for "not ours", `dispute_reason` only for a dispute; the other
    answers drop them."""

    note: str = ""
    responsible: str = ""
    dispute_reason: str | None = None

    def for_answer(self, answer: str) -> AnswerDetails:
        if self.dispute_reason is not None and self.dispute_reason not in DISPUTE_REASONS:
            raise ValueError(f"unknown dispute reason {self.dispute_reason!r}")
        return AnswerDetails(
            self.note,
            self.responsible if answer == "not_ours" else "",
            self.dispute_reason if answer == "dispute" else None,
        )


async def record_answer(
    conn: asyncpg.Connection,
    token: AckToken,
    case_ids: list[int],
    answer: str,
    details: AnswerDetails | str = "",
) -> int:
    """Apply an answer to the notice's items `case_ids`; how many items it newly changed.
    `details` may be just the note."""
    if answer not in ANSWERS:
        raise ValueError(f"unknown answer {answer!r}")
    given = details if isinstance(details, AnswerDetails) else AnswerDetails(note=details)
    kept = given.for_answer(answer)
    changed = 0
    async with conn.transaction():
        for case_id in case_ids:
            if await notify_repo.insert_answer(
                conn,
                token.notice_id,
                case_id,
                answer,
                kept.note,
                responsible=kept.responsible,
                dispute_reason=kept.dispute_reason,
            ):
                await _apply(conn, token, case_id, answer, kept)
                changed += 1
        await notify_repo.token_used(conn, token.digest)
        if changed and answer in ("received", "removed"):
            await notify_repo.health_acknowledged(conn, token.recipient)
    return changed


async def _apply(
    conn: asyncpg.Connection, token: AckToken, case_id: int, answer: str, details: AnswerDetails
) -> None:
    detail: dict[str, Any] = {"notice_id": token.notice_id, "answer": answer}
    if details.responsible:
        detail["responsible"] = details.responsible
    if details.dispute_reason:
        detail["dispute_reason"] = details.dispute_reason
    if details.note:
        detail["note"] = details.note
    actor = f"hoster:{token.recipient}"
    await cases.add_event(conn, case_id, actor=actor, kind=f"ack_{answer}", detail=detail)
    if answer in ("received", "removed"):
        await cases.transition(
            conn,
            case_id,
            CaseState.ACKNOWLEDGED,
            actor=actor,
            kind="acknowledged",
            detail=detail,
            stamp="acknowledged_at",
            expect=ACK_STATES,
        )
    if answer == "removed":
        await jobs.enqueue_for_case(conn, "probe", case_id)
    if answer in ("not_ours", "dispute"):
        queue = {"queue": answer, "notice_id": token.notice_id}
        await cases.add_event(conn, case_id, actor=actor, kind="hotline_queue", detail=queue)
