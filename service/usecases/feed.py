"""The scanner's side of a case: its projection (the scanner view) and the outcome feed.

A scanner learns the state as `service.domain.outcomes` words it, the clock's timestamps and
its outcomes with their times, and nothing else: no events, actors, hold reasons, notes or
hosters' text. The feed lists the outcomes of a scanner's cases in the order they committed,
paged with an opaque keyset cursor (see migration 0140 for why the order has no gaps).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from service.db import feed_repo
from service.domain.outcomes import scanner_state

HASH_NAMES = ("sha256", "sha1", "md5", "pdq")
CLOCK = (
    "detected_at",
    "received_at",
    "first_notice_at",
    "acknowledged_at",
    "first_gone_at",
    "removed_at",
    "reappeared_at",
)
_CURSOR_PREFIX = "c1."
START = (0, 0)


class BadCursor(ValueError):
    """A `since` value this service did not hand out."""


@dataclass(frozen=True)
class FeedItem:
    """One outcome of one case, as the scanner sees it."""

    id: int
    case_id: int
    url: str
    source_ref: str
    outcome: str
    at: datetime
    state: str
    reason: str | None
    # the case's removal clock as it stands when the item is read (time to removal stays
    # data on the scanner's side, and on a partner hotline's that mirrors this feed)
    first_gone_at: datetime | None
    removed_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "case_id": self.case_id,
            "url": self.url,
            "source_ref": self.source_ref,
            "outcome": self.outcome,
            "at": self.at.isoformat(),
            "state": self.state,
            "reason": self.reason,
            "first_gone_at": _iso(self.first_gone_at),
            "removed_at": _iso(self.removed_at),
        }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedItem]
    next: str


def encode_cursor(position: tuple[int, int]) -> str:
    raw = f"{position[0]}.{position[1]}".encode()
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, int]:
    """The (txid, id) position of a cursor; the start of the feed for None or ''."""
    if not cursor:
        return START
    if not cursor.startswith(_CURSOR_PREFIX) or len(cursor) > 100:
        raise BadCursor("not a cursor of this feed")
    body = cursor[len(_CURSOR_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("ascii")
        txid, row_id = (int(part) for part in raw.split("."))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor("not a cursor of this feed") from exc
    if not (0 <= txid < 2**64 and 0 <= row_id < 2**63):
        raise BadCursor("not a cursor of this feed")
    return txid, row_id


def feed_item(row: Mapping[str, Any]) -> FeedItem:
    """A feed row (outcome, case) as the scanner sees it."""
    return FeedItem(
        id=row["id"],
        case_id=row["case_id"],
        url=row["url"],
        source_ref=row["source_ref"],
        outcome=row["outcome"],
        at=row["at"],
        state=scanner_state(row["case_state"]).value,
        reason=row["reason"],
        first_gone_at=row["first_gone_at"],
        removed_at=row["removed_at"],
    )


async def read_feed(
    conn: asyncpg.Connection, scanner_id: int, after: tuple[int, int], limit: int
) -> tuple[list[FeedItem], tuple[int, int]]:
    """Items after the position `after`, and the position after the last of them."""
    rows = await feed_repo.feed_page(conn, scanner_id, after, limit)
    if not rows:
        return [], after
    last = rows[-1]
    return [feed_item(r) for r in rows], (int(last["txid"]), int(last["id"]))


async def feed_page(pool: asyncpg.Pool, scanner_id: int, since: str | None, limit: int) -> FeedPage:
    """One page of the scanner's feed after the cursor `since` (BadCursor if it is not one)."""
    after = decode_cursor(since)
    async with pool.acquire() as conn:
        items, position = await read_feed(conn, scanner_id, after, limit)
    return FeedPage(items, encode_cursor(position))


async def feed_horizon(conn: asyncpg.Connection) -> tuple[int, int]:
    """The feed position past everything visible now."""
    return await feed_repo.feed_horizon(conn)


async def scanner_view(pool: asyncpg.Pool, case_id: int, scanner_id: int) -> dict[str, Any] | None:
    """The scanner's projection of its own case, JSON-ready; None for any other case."""
    async with pool.acquire() as conn:
        case = await feed_repo.scanner_case(conn, case_id, scanner_id)
    if case is None:
        return None
    view: dict[str, Any] = {
        "id": case["id"],
        "url": case["url"],
        "state": scanner_state(case["state"]).value,
        "media_type": case["media_type"],
        "hashes": {k: case[k] for k in HASH_NAMES if case.get(k)},
        "source_ref": case["source_ref"],
    }
    view |= {k: case[k].isoformat() if case[k] else None for k in CLOCK}
    view["outcomes"] = [
        {"outcome": o["outcome"], "at": o["at"].isoformat(), "reason": o["reason"]}
        for o in case["outcomes"]
    ]
    return view
