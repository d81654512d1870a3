"""Returned mail acted on: a final delivery failure moves the notice's items on.

A bounce is matched to its notice by its VERP envelope recipient when it came back to one
(authenticated by its MAC), else by the Message-ID of the original message (parsed in
`returned.py`). Both are unguessable, so a forged report cannot redirect anybody's notices.
A failure counts when the sender gave up (`Action: failed`, an expired queue), whatever the
status class: the notice never arrived. A forwarded mailbox's failure (the abuse address
forwards to a mailbox that refuses it) is the notice's recipient's failure.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from service.db import mail_repo, notify_repo
from service.notify.outbox import reroute
from service.notify.returned import Bounce, FailedRecipient, parse_bounce
from service.notify.verp import notice_of
from service.settings import Settings

__all__ = ["Bounce", "FailedRecipient", "apply_bounce", "parse_bounce"]


async def apply_bounce(
    conn: asyncpg.Connection, settings: Settings, bounce: Bounce
) -> dict[str, Any]:
    """Mark the contact failing and move the notice's items on. A summary for the caller."""
    notice = await _verp_notice(conn, settings, bounce.envelope)
    if notice is None:
        notice = await _matching_notice(conn, bounce.message_ids)
    if notice is None:
        return {"matched": False, "action": "ignored", "reason": "no notice with that Message-ID"}
    return await apply_to_notice(conn, settings, bounce, notice)


async def _verp_notice(
    conn: asyncpg.Connection, settings: Settings, addresses: list[str]
) -> dict[str, Any] | None:
    """The notice whose authentic VERP return path the bounce was addressed to."""
    notice_id = notice_of(settings, addresses)
    notice = await mail_repo.notice(conn, notice_id) if notice_id is not None else None
    return notice | {"verp": True} if notice is not None else None


async def apply_to_notice(
    conn: asyncpg.Connection, settings: Settings, bounce: Bounce, notice: dict[str, Any]
) -> dict[str, Any]:
    """Act on a bounce already matched to `notice` (by VERP or Message-ID)."""
    recipient = str(notice["recipient"]).lower()
    cc = {address.lower() for address in notice.get("cc") or ()}
    copies = [r for r in bounce.final if cc.intersection(r.addresses)]
    refused = [r for r in bounce.final if recipient in r.addresses]
    if not refused and notice.get("verp"):
        # Back at this notice's own VERP address: whatever other address the remote system
        # names (an alias expanded, a forward), it is this recipient's mail that failed.
        refused = [r for r in bounce.final if r not in copies]
    summary: dict[str, Any] = {"matched": True, "notice_id": notice["id"]}
    if copies and not refused:
        return summary | await _copies_bounced(conn, notice, copies)
    if not refused:
        return summary | {"action": "ignored", "reason": "no final failure for the recipient"}
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
    cc = {address.lower() for address in notice.get("cc") or ()}
    failures = {
        address: f"bounce {r.status} {r.diagnostic}".strip()
        for r in copies
        for address in cc.intersection(r.addresses)
        if address not in known
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
