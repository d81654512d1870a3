"""Withdrawals and reopened cases: the storage side (queries/withdraw.sql).

One typed function per named query; the use cases in service.usecases.withdraw and
service.usecases.intake decide and own the transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypedDict, cast

import asyncpg

from service.db.notify_repo import new_message_id
from service.db.queries import q

HASH_COLUMNS = frozenset({"sha256", "sha1", "md5", "pdq"})
Row = dict[str, Any]


@dataclass(frozen=True)
class NotifiedParty:
    """Someone told about withdrawn cases: who, in which language, about which cases."""

    recipient: str
    role: str
    language: str
    country: str | None
    case_ids: list[int]
    cc: list[str]


async def cancel_unsent(conn: asyncpg.Connection, case_ids: list[int], reason: str) -> Row:
    """Take the cases out of unsent notices; {'touched': n, 'cancelled': m}."""
    row = await conn.fetchrow(q("withdraw_cancel_unsent"), sorted(case_ids), reason)
    return {"touched": row["touched"], "cancelled": row["cancelled"]}


async def reporter_of(conn: asyncpg.Connection, case_id: int) -> int | None:
    """The token id of the scanner that reported the case (None: no such case)."""
    scanner_id: int | None = await conn.fetchval(q("withdraw_reporter_of"), case_id)
    return scanner_id


async def quiet_ladders(conn: asyncpg.Connection, case_ids: list[int]) -> None:
    await conn.execute(q("withdraw_quiet_ladders"), sorted(case_ids))


async def notified_parties(conn: asyncpg.Connection, case_ids: list[int]) -> list[NotifiedParty]:
    rows = await conn.fetch(q("withdraw_notified_recipients"), sorted(case_ids))
    return [
        NotifiedParty(
            r["recipient"],
            r["role"],
            r["language"],
            r["country"],
            list(r["case_ids"]),
            list(r["cc"]),
        )
        for r in rows
    ]


async def insert_withdrawal_notice(
    conn: asyncpg.Connection, party: NotifiedParty, mail_from: str
) -> int:
    notice_id: int = await conn.fetchval(
        q("withdraw_insert_notice"),
        party.recipient,
        party.role,
        party.language,
        party.country,
        new_message_id(mail_from),
        party.cc,
        party.case_ids,
    )
    return notice_id


async def record_hash(
    conn: asyncpg.Connection, algorithm: str, digest: str, reason: str, actor: str
) -> Row:
    """The hash's withdrawal row (the existing one when it was withdrawn before)."""
    row = await conn.fetchrow(q("withdraw_record_hash"), algorithm, digest, reason, actor)
    return dict(row)


async def count_hash(conn: asyncpg.Connection, withdrawal_id: int, cases: int) -> None:
    await conn.execute(q("withdraw_count_hash"), withdrawal_id, cases)


async def cases_with_hash(conn: asyncpg.Connection, algorithm: str, digest: str) -> list[int]:
    if algorithm not in HASH_COLUMNS:
        raise ValueError(f"unknown hash algorithm {algorithm!r}")
    rows = await conn.fetch(q("withdraw_cases_with_hash").replace("{column}", algorithm), digest)
    return [row["id"] for row in rows]


class WithdrawnHash(TypedDict):
    """A hash a hotline withdrew (no longer known material), and how many cases it closed."""

    id: int
    algorithm: str
    digest: str
    reason: str
    created_by: str
    created_at: datetime
    cases_withdrawn: int


async def withdrawn_hashes(conn: asyncpg.Connection, limit: int = 500) -> list[WithdrawnHash]:
    rows = await conn.fetch(q("withdraw_hashes_list"), limit)
    return [cast(WithdrawnHash, dict(r)) for r in rows]


class HashSet(Protocol):
    def present(self) -> dict[str, str]: ...


async def withdrawn_among(conn: asyncpg.Connection, hashes: Sequence[HashSet]) -> dict[int, Row]:
    """Of the reports' hash sets (one per report), the first withdrawn hash per position."""
    if not await conn.fetchval(q("withdraw_any")):
        return {}  # the common case: one tiny statement on intake's hot path, no hash read
    flat = [
        (p, name, digest)
        for p, hash_set in enumerate(hashes)
        for name, digest in hash_set.present().items()
    ]
    rows = await conn.fetch(
        q("withdraw_hashes_matching"),
        [p for p, _, _ in flat],
        [name for _, name, _ in flat],
        [digest for _, _, digest in flat],
    )
    found: dict[int, Row] = {}
    for row in rows:
        found.setdefault(row["position"], dict(row))
    return found


async def dispute_answers(conn: asyncpg.Connection, case_id: int) -> list[Row]:
    return [dict(r) for r in await conn.fetch(q("withdraw_dispute_answers"), case_id)]


async def reopen_candidates(
    conn: asyncpg.Connection, case_ids: list[int]
) -> dict[int, datetime | None]:
    """Of these cases, the removed ones whose watch has ended (locked): {id: last removal}."""
    rows = await conn.fetch(q("reopen_candidates"), sorted(set(case_ids)))
    return {row["id"]: row["last_removed_at"] for row in rows}


async def restart_tracking(conn: asyncpg.Connection, case_id: int) -> None:
    await conn.execute(q("reopen_tracking"), case_id)
