"""Notices, items, acknowledgment tokens and answers, contact health: a function per query."""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

import asyncpg

from service.db.queries import q

NoticeRow = dict[str, Any]


class NoticeItemRow(TypedDict):
    """What a notice says about one of its cases (the acknowledgment page shows it)."""

    case_id: int
    url: str
    sha256: str | None
    sha1: str | None
    md5: str | None
    pdq: str | None
    media_type: str
    state: str
    classification: str | None
    detected_at: datetime
    last_seen_at: datetime | None
    reappeared: bool
    removed_before: datetime | None


class RoundItem(NoticeItemRow):
    """An item of a notice in a send round, with its notice."""

    notice_id: int


class AckTokenRow(TypedDict):
    """An acknowledgment token (by its hash) with what its link needs of the notice."""

    sha256: bytes
    notice_id: int
    csrf_secret: bytes
    expires_at: datetime
    used_at: datetime | None
    answers: int
    expired: bool
    language: str
    recipient: str
    message_id: str
    kind: str


class ContactHealth(TypedDict):
    """An address's delivery record and the median notice→gone seconds of its cases."""

    address: str
    delivered: int
    bounced: int
    acknowledged: int
    failing: bool
    last_error: str | None
    median_removal_seconds: float | None


def new_message_id(mail_from: str) -> str:
    """A Message-ID on the hotline's own domain, fixed when the notice is created."""
    domain = mail_from.rpartition("@")[2] or "localhost"
    return f"<notice.{uuid.uuid4().hex}@{domain}>"


async def failing_among(conn: asyncpg.Connection, addresses: list[str]) -> set[str]:
    rows = await conn.fetch(q("notify_failing_among"), addresses)
    return {row["address"] for row in rows}


async def open_batch(
    conn: asyncpg.Connection,
    *,
    recipient: str,
    kind: str,
    role: str,
    language: str,
    country: str | None,
    mail_from: str,
    cc: tuple[str, ...] = (),
) -> tuple[int, datetime]:
    """The open batch of the recipient with these copies (sorted; created if needed):
    (notice id, created_at)."""
    row = await conn.fetchrow(
        q("notify_open_batch"),
        recipient,
        kind,
        role,
        language,
        country,
        new_message_id(mail_from),
        list(cc),
    )
    return row["id"], row["created_at"]


async def add_item(conn: asyncpg.Connection, notice_id: int, case_id: int) -> None:
    await conn.execute(q("notify_add_item"), notice_id, case_id)


async def notice_by_message_id(conn: asyncpg.Connection, message_id: str) -> NoticeRow | None:
    row = await conn.fetchrow(q("notify_notice_by_message_id"), message_id)
    return dict(row) if row else None


async def item_case_ids(conn: asyncpg.Connection, notice_id: int) -> list[int]:
    return [row["case_id"] for row in await conn.fetch(q("notify_item_case_ids"), notice_id)]


async def split_off(
    conn: asyncpg.Connection, notice: NoticeRow, case_ids: list[int], mail_from: str
) -> int:
    """Move `case_ids` of an over-full notice into a new sealed notice; its id."""
    new_id: int = await conn.fetchval(
        q("notify_new_sealed_notice"),
        notice["recipient"],
        notice["role"],
        notice["language"],
        notice["country"],
        notice["kind"],
        new_message_id(mail_from),
        list(notice["cc"]),
    )
    await conn.execute(q("notify_move_items"), notice["id"], new_id, case_ids)
    return new_id


async def items(conn: asyncpg.Connection, notice_id: int) -> list[NoticeItemRow]:
    rows = await conn.fetch(q("notify_items"), notice_id)
    return [cast(NoticeItemRow, dict(row)) for row in rows]


async def insert_ack_token(
    conn: asyncpg.Connection, digest: bytes, notice_id: int, csrf_secret: bytes, expires: datetime
) -> None:
    await conn.execute(q("notify_insert_ack_token"), digest, notice_id, csrf_secret, expires)


async def mark_sent(conn: asyncpg.Connection, notice_id: int) -> datetime | None:
    sent_at: datetime | None = await conn.fetchval(q("notify_mark_sent"), notice_id)
    return sent_at


async def next_unsent(
    conn: asyncpg.Connection, recipient: str, gather: timedelta
) -> tuple[int, datetime] | None:
    row = await conn.fetchrow(q("notify_next_unsent"), recipient, gather)
    return (row["id"], row["due"]) if row else None


async def mark_failed(conn: asyncpg.Connection, notice_id: int, error: str) -> None:
    await conn.execute(q("notify_mark_failed"), notice_id, error[:2000])


async def note_error(conn: asyncpg.Connection, notice_id: int, error: str) -> None:
    await conn.execute(q("notify_note_error"), notice_id, error[:2000])


async def health_delivered(conn: asyncpg.Connection, address: str) -> None:
    await conn.execute(q("notify_health_delivered"), address)


async def health_failed(
    conn: asyncpg.Connection, address: str, error: str, *, bounce: bool
) -> None:
    await conn.execute(q("notify_health_failed"), address, 1 if bounce else 0, error[:2000])


async def health_acknowledged(conn: asyncpg.Connection, address: str) -> None:
    await conn.execute(q("notify_health_acknowledged"), address)


async def token(conn: asyncpg.Connection, digest: bytes) -> AckTokenRow | None:
    row = await conn.fetchrow(q("notify_token"), digest)
    return cast(AckTokenRow, dict(row)) if row else None


async def token_used(conn: asyncpg.Connection, digest: bytes) -> None:
    await conn.execute(q("notify_token_used"), digest)


async def insert_answer(
    conn: asyncpg.Connection,
    notice_id: int,
    case_id: int,
    answer: str,
    note: str,
    *,
    responsible: str = "",
    dispute_reason: str | None = None,
) -> bool:
    """True when this answer is new for the item (a repeated answer is recorded once)."""
    new = await conn.fetchval(
        q("notify_insert_answer"),
        notice_id,
        case_id,
        answer,
        note,
        responsible,
        dispute_reason,
    )
    return new is not None


async def answer_queue(conn: asyncpg.Connection, limit: int = 100) -> list[NoticeRow]:
    """'Not ours' and dispute answers awaiting the hotline."""
    return [dict(row) for row in await conn.fetch(q("notify_answer_queue"), limit)]


async def contact_health(conn: asyncpg.Connection, limit: int = 1000) -> list[ContactHealth]:
    """Per-address delivery health with the median notice→gone seconds, for analysts."""
    rows = await conn.fetch(q("notify_contact_health"), limit)
    return [cast(ContactHealth, dict(row)) for row in rows]


async def cc_failed(
    conn: asyncpg.Connection,
    notice_id: int,
    failures: dict[str, str],
    *,
    permanent: set[str],
    bounce: bool,
) -> None:
    """Copies of a notice that were refused or bounced ({address: why}) are recorded on the
    notice; those refused for good (`permanent`) count as failing in their health. The notice
    and its main recipient are left alone."""
    await conn.execute(q("notify_cc_failed"), notice_id, {a: e[:500] for a, e in failures.items()})
    for address in sorted(permanent & failures.keys()):
        await health_failed(conn, address, failures[address], bounce=bounce)


async def mark_bounced(conn: asyncpg.Connection, notice_id: int, error: str) -> bool:
    """Record a bounce once; False if this notice had bounced already."""
    return await conn.fetchval(q("notify_mark_bounced"), notice_id, error[:2000]) is not None


async def lock_round(conn: asyncpg.Connection, notice_ids: list[int]) -> list[NoticeRow]:
    """The notices of a send round, locked, with `behind` and `tx_now` (see the query)."""
    rows = await conn.fetch(q("notify_lock_round"), sorted(notice_ids))
    return [dict(row) for row in rows]


async def round_items(
    conn: asyncpg.Connection, notice_ids: list[int], sealing: list[int], wanted: list[str]
) -> dict[int, list[RoundItem]]:
    """Items per notice (by case id); notices in `sealing` first drop unwanted items."""
    found: dict[int, list[RoundItem]] = {notice_id: [] for notice_id in notice_ids}
    for row in await conn.fetch(q("notify_round_items"), notice_ids, sealing, wanted):
        found[row["notice_id"]].append(cast(RoundItem, dict(row)))
    return found


async def start_round(
    conn: asyncpg.Connection,
    deadlines: dict[int, datetime],
    tokens: dict[int, tuple[bytes, bytes]],
    expires: datetime,
) -> dict[int, datetime]:
    """Seal the notices and count an attempt each; store their token hashes (digest, csrf).

    Returns each notice's deadline as fixed (at its first attempt)."""
    ids = sorted(deadlines)
    rows = await conn.fetch(
        q("notify_start_round"),
        ids,
        [deadlines[i] for i in ids],
        [tokens[i][0] for i in ids],
        [tokens[i][1] for i in ids],
        expires,
    )
    return {row["id"]: row["deadline_at"] for row in rows}


async def lock_sending(conn: asyncpg.Connection, notice_ids: list[int]) -> set[int]:
    """Which of the accepted notices are still 'sending' (locked)."""
    rows = await conn.fetch(q("notify_lock_sending"), sorted(notice_ids))
    return {row["id"] for row in rows}


async def record_round(
    conn: asyncpg.Connection, notice_ids: list[int], gather: timedelta
) -> tuple[dict[int, datetime], list[tuple[int, datetime]]]:
    """Mark accepted notices sent: ({id newly sent: when}, [(next notice to wake, when)])."""
    rows = await conn.fetch(q("notify_record_round"), sorted(notice_ids), gather)
    sent = {row["id"]: row["due"] for row in rows if row["sent"]}
    return sent, [(row["id"], row["due"]) for row in rows if not row["sent"]]


async def cases_notified(
    conn: asyncpg.Connection,
    details: list[tuple[int, dict[str, Any]]],
    awaiting: list[str],
    actor: str,
) -> set[int]:
    """Cases of accepted notices on the notice clock, an event each (see the query)."""
    rows = await conn.fetch(
        q("notify_cases_notified"),
        [case_id for case_id, _ in details],
        [detail for _, detail in details],
        awaiting,
        actor,
    )
    return {row["id"] for row in rows}


async def cases_for_outbox_many(
    conn: asyncpg.Connection, case_ids: list[int], kind: str
) -> list[NoticeRow]:
    """Cases with state, route and `in_flight` (kind), locked in id order."""
    rows = await conn.fetch(q("notify_cases_for_outbox_many"), sorted(set(case_ids)), kind)
    return [dict(row) for row in rows]


BatchKey = tuple[str, tuple[str, ...]]


async def open_batches(
    conn: asyncpg.Connection, batches: list[NoticeRow], kind: str, mail_from: str
) -> dict[BatchKey, tuple[int, datetime]]:
    """Each open batch, locked (created if needed): {(recipient, cc): (notice id, created_at)}.

    `batches` has one entry per (recipient, cc): recipient, cc (sorted tuple), role, language,
    country. The existing batches are locked in id order, as the send round locks notices, so
    that concurrent outbox rounds and send rounds wait for each other instead of
    deadlocking; the missing ones are then created (new rows: nobody else holds them). A batch
    another transaction created meanwhile is not locked out of order: the attempt is undone
    (its locks released with the savepoint) and made again, when that batch is visible.
    """
    wanted = {(b["recipient"], tuple(b["cc"])): b for b in batches}
    for _attempt in range(_OPEN_TRIES - 1):
        with contextlib.suppress(_Raced):
            return await _open_batches_once(conn, wanted, kind, mail_from)
    return await _open_batches_once(conn, wanted, kind, mail_from)


_OPEN_TRIES = 5


class _Raced(Exception):
    """Another transaction created one of the batches between the lock and the insert."""


async def _open_batches_once(
    conn: asyncpg.Connection, wanted: dict[BatchKey, NoticeRow], kind: str, mail_from: str
) -> dict[BatchKey, tuple[int, datetime]]:
    async with conn.transaction():  # a savepoint: undone (locks and rows) on _Raced
        keys = sorted(wanted)
        rows = await conn.fetch(
            q("notify_lock_open_batches"),
            kind,
            [recipient for recipient, _ in keys],
            [",".join(cc) for _, cc in keys],
        )
        found = {(r["recipient"], tuple(r["cc"])): (r["id"], r["created_at"]) for r in rows}
        missing = [wanted[k] for k in keys if k not in found]
        if missing:
            found |= await _create_batches(conn, missing, kind, mail_from)
            if len(found) < len(wanted):
                raise _Raced
    return found


async def _create_batches(
    conn: asyncpg.Connection, batches: list[NoticeRow], kind: str, mail_from: str
) -> dict[BatchKey, tuple[int, datetime]]:
    rows = await conn.fetch(
        q("notify_create_batches"),
        [b["recipient"] for b in batches],
        [b["role"] for b in batches],
        [b["language"] for b in batches],
        [b["country"] for b in batches],
        kind,
        [new_message_id(mail_from) for _ in batches],
        [",".join(b["cc"]) for b in batches],
    )
    return {(row["recipient"], tuple(row["cc"])): (row["id"], row["created_at"]) for row in rows}


async def lock_still_needing(
    conn: asyncpg.Connection, case_ids: list[int], kind: str, states: list[str]
) -> set[int]:
    """Lock the cases in id order (after their notices); those that, seen after the lock,
    are still in `states` and wait in no unsent notice of `kind`."""
    ids = sorted(set(case_ids))
    await conn.execute(q("notify_lock_cases"), ids)
    # A statement of its own: it sees what a round we waited for has just committed.
    rows = await conn.fetch(q("notify_still_needing"), ids, kind, states)
    return {row["id"] for row in rows}


async def add_items(
    conn: asyncpg.Connection, pairs: list[tuple[int, int]], window: timedelta
) -> dict[int, datetime]:
    """Put cases into (locked) notices: (notice id, case id) pairs. Each notice is due
    `window` after its earliest item became ready (see the query): {notice id: due at}."""
    rows = await conn.fetch(
        q("notify_add_items"),
        [notice for notice, _ in pairs],
        [case for _, case in pairs],
        window,
    )
    return {row["id"]: row["due_at"] for row in rows}


async def address_routes(conn: asyncpg.Connection, case_ids: list[int]) -> list[dict[str, Any]]:
    """The other networks' routes of these cases (case_id, position, recipients, country)."""
    return [dict(r) for r in await conn.fetch(q("notify_address_routes"), case_ids)]
