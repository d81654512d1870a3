"""Delivery status notifications (RFC 3464): parse them and act like a permanent failure.

A bounce is matched to its notice by the Message-ID of the original message (in the returned
message or headers part), else by In-Reply-To/References of the report itself. Message-IDs are
unguessable, so a forged report cannot redirect anybody's notices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.errors import MessageError
from email.message import EmailMessage, Message
from typing import Any

import asyncpg

from service.db import notify_repo
from service.notify.outbox import reroute
from service.settings import Settings

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
# What CPython's email package raises on some garbage instead of recording a defect
# (an IndexError deep in its header parser, for one).
_PARSER_FAILURES = (MessageError, LookupError, ValueError, TypeError, AttributeError)


@dataclass(frozen=True)
class FailedRecipient:
    address: str
    action: str
    status: str
    diagnostic: str

    @property
    def permanent(self) -> bool:
        return self.action == "failed" and self.status.startswith("5")


@dataclass
class Bounce:
    """What a DSN says: which messages, which recipients, with what status."""

    message_ids: list[str] = field(default_factory=list)
    recipients: list[FailedRecipient] = field(default_factory=list)

    @property
    def permanent(self) -> list[FailedRecipient]:
        return [r for r in self.recipients if r.permanent]


def parse_bounce(raw: bytes) -> Bounce:
    """Parse a raw RFC 5322 message; an empty Bounce when it is not a DSN we understand."""
    try:
        return _parse(raw)
    except _PARSER_FAILURES:
        return Bounce()  # too malformed for the email package: nothing in it can be matched


def _parse(raw: bytes) -> Bounce:
    message = message_from_bytes(raw, policy=policy.default)
    bounce = Bounce()
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            bounce.recipients.extend(_recipients(part))
        elif content_type in ("message/rfc822", "text/rfc822-headers"):
            bounce.message_ids.extend(_original_ids(part))
    for header in ("In-Reply-To", "References"):
        bounce.message_ids.extend(_ids_in(message, header))
    bounce.message_ids = list(dict.fromkeys(bounce.message_ids))
    return bounce


def _recipients(part: Message) -> list[FailedRecipient]:
    found = []
    for block in _status_blocks(part):
        recipient = block.get("final-recipient") or block.get("original-recipient") or ""
        found.append(
            FailedRecipient(
                address=recipient.rpartition(";")[2].strip().strip("<>").lower(),
                action=block.get("action", "").strip().lower(),
                status=block.get("status", "").strip(),
                diagnostic=block.get("diagnostic-code", "").rpartition(";")[2].strip()[:500],
            )
        )
    return [r for r in found if r.address]


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message and per-recipient field groups of a delivery-status part."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parses each group as a Message
        groups = [block for block in payload if isinstance(block, Message)]
        return [{k.lower(): str(v) for k, v in block.items()} for block in groups]
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n\s*\r?\n", str(payload)):
        fields = dict(_field(line) for line in chunk.splitlines() if ":" in line)
        if fields:
            blocks.append(fields)
    return blocks


def _field(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


def _original_ids(part: Message) -> list[str]:
    payload = part.get_payload()
    original: Message
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        original = payload[0]
    elif isinstance(part, EmailMessage) and part.get_content_type() == "text/rfc822-headers":
        original = message_from_bytes(part.get_content().encode(), policy=policy.default)
    else:
        return []
    return _ids_in(original, "Message-ID")


def _ids_in(message: Message, header: str) -> list[str]:
    """The Message-IDs in a header, read from its raw text.

    The raw text, because the email package's parser of these headers crashes on some garbage
    (an IndexError for `Message-ID: <<<>>>`) and the pattern needs no parsed form anyway.
    """
    name = header.lower()
    raw = " ".join(str(value) for key, value in message.raw_items() if key.lower() == name)
    return _MESSAGE_ID.findall(raw)


async def apply_bounce(
    conn: asyncpg.Connection, settings: Settings, bounce: Bounce
) -> dict[str, Any]:
    """Mark the contact failing and move the notice's items on. A summary for the caller."""
    notice = await _matching_notice(conn, bounce.message_ids)
    if notice is None:
        return {"matched": False, "action": "ignored", "reason": "no notice with that Message-ID"}
    refused = [r for r in bounce.permanent if r.address in ("", notice["recipient"])]
    summary: dict[str, Any] = {"matched": True, "notice_id": notice["id"]}
    copies = [r for r in bounce.permanent if r.address in (notice.get("cc") or ())]
    if copies and not refused:
        return summary | await _copies_bounced(conn, notice, copies)
    if not refused:
        return summary | {"action": "ignored", "reason": "no permanent failure for the recipient"}
    error = f"bounce {refused[0].status} {refused[0].diagnostic}".strip()
    async with conn.transaction():
        if not await notify_repo.mark_bounced(conn, notice["id"], error):
            return summary | {"action": "ignored", "reason": "bounce already handled"}
        await notify_repo.health_failed(conn, notice["recipient"], error, bounce=True)
        placements = await reroute(conn, settings, notice, error)
    moved_to = sorted({p.recipient for p in placements if p.recipient})
    return summary | {
        "action": "rerouted",
        "moved_to": moved_to,
        "hotline_queue": sum(1 for p in placements if p.recipient is None),
    }


async def _copies_bounced(
    conn: asyncpg.Connection, notice: dict[str, Any], copies: list[FailedRecipient]
) -> dict[str, Any]:
    """A copy (Cc) bounced: recorded with its address's health; the main recipient got the
    notice, so nothing moves."""
    known = notice.get("cc_failed") or {}
    failures = {
        r.address: f"bounce {r.status} {r.diagnostic}".strip()
        for r in copies
        if r.address not in known
    }
    if not failures:
        return {"action": "ignored", "reason": "bounce already handled"}
    async with conn.transaction():
        await notify_repo.cc_failed(
            conn, notice["id"], failures, permanent=set(failures), bounce=True
        )
    return {"action": "cc_failed", "cc_failed": sorted(failures)}


async def _matching_notice(
    conn: asyncpg.Connection, message_ids: list[str]
) -> dict[str, Any] | None:
    for message_id in message_ids:
        notice = await notify_repo.notice_by_message_id(conn, message_id)
        if notice is not None:
            return notice
    return None
