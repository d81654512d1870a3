"""The tamper-evident audit chain of case events, verified independently of the database.

Migration 0040 makes PostgreSQL compute, for every appended event, `hash = sha256(prev_hash ||
canonical(event))` with `prev_hash` the hash of the case's previous event. This module
recomputes the same function in Python from the stored fields, so a verification does not
trust the database's own functions: a row changed or deleted behind the append-only trigger
(as a superuser can) shows up as the first broken link of its case.

What the chain cannot show on its own: the removal of a case's *newest* events (nothing links
to them). Copying each case's newest hash elsewhere now and then would close that gap.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import asyncpg

from service.db.queries import q

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FETCH_ROWS = 2000


def _field(value: str | None) -> bytes:
    if value is None:
        return b"~"
    raw = value.encode("utf-8")
    return str(len(raw)).encode() + b":" + raw


def epoch_micros(at: datetime) -> int:
    """Microseconds since the Unix epoch, exactly (what the SQL side computes)."""
    return (at - EPOCH) // timedelta(microseconds=1)


def canonical(event: dict[str, Any]) -> bytes:
    """The bytes an event's hash covers; must match `case_event_canonical` in SQL."""
    fields = (
        str(event["id"]),
        str(event["case_id"]),
        str(epoch_micros(event["at"])),
        event["actor"],
        event["kind"],
        event["from_state"],
        event["to_state"],
        event["detail_text"],
    )
    return b"".join(_field(f) for f in fields)


def event_hash(prev_hash: bytes | None, event: dict[str, Any]) -> bytes:
    return hashlib.sha256((prev_hash or b"") + canonical(event)).digest()


@dataclass(frozen=True)
class BrokenLink:
    """The first event whose chain does not verify, and why."""

    case_id: int
    event_id: int
    reason: Literal["content changed", "link broken"]

    def render(self) -> str:
        what = (
            "its content no longer matches its hash"
            if self.reason == "content changed"
            else "it does not follow the previous event (one was removed or inserted)"
        )
        return f"case {self.case_id}, event {self.event_id}: {what}"


@dataclass
class AuditReport:
    """What a verification saw."""

    cases: int = 0
    events: int = 0
    broken: list[BrokenLink] | None = None

    @property
    def ok(self) -> bool:
        return not self.broken


def check_event(prev_hash: bytes | None, event: dict[str, Any]) -> BrokenLink | None:
    """Check one event against the hash of the previous one of its case."""
    if event["prev_hash"] != prev_hash:
        return BrokenLink(event["case_id"], event["id"], "link broken")
    if event["hash"] != event_hash(prev_hash, event):
        return BrokenLink(event["case_id"], event["id"], "content changed")
    return None


async def _events(conn: asyncpg.Connection, case_id: int | None) -> AsyncIterator[dict[str, Any]]:
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        async for row in conn.cursor(q("audit_events"), case_id, prefetch=_FETCH_ROWS):
            yield dict(row)


async def verify_chains(
    conn: asyncpg.Connection, *, case_id: int | None = None, stop_at_first: bool = False
) -> AuditReport:
    """Recompute every chain (or one case's); report the first broken link of each case."""
    report = AuditReport(broken=[])
    assert report.broken is not None
    current: int | None = None
    prev: bytes | None = None
    skip_case = False
    async for event in _events(conn, case_id):
        if event["case_id"] != current:
            current, prev, skip_case = event["case_id"], None, False
            report.cases += 1
        report.events += 1
        if not skip_case and (broken := check_event(prev, event)) is not None:
            report.broken.append(broken)
            skip_case = True  # later links of this case follow from the first break
            if stop_at_first:
                break
        prev = event["hash"]
    return report
