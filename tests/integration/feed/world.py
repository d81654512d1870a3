"""Cases of a scanner moved along the lifecycle the way the stages move them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from service.db import cases
from service.db.tokens import live_token_by_name
from service.domain.reports import ValidReport, validate_batch
from service.domain.states import CaseState

S = CaseState
# A path from `received` to each state, with the clock column each step stamps.
STEPS: dict[CaseState, str | None] = {
    S.RESOLVING: None,
    S.RESOLVED: "resolved_at",
    S.NOTIFIED: "first_notice_at",
    S.ACKNOWLEDGED: "acknowledged_at",
    S.GONE_PENDING: "first_gone_at",
    S.REMOVED: "removed_at",
    S.REAPPEARED: "reappeared_at",
}


def report(n: int, host: str = "files.example.net") -> dict[str, Any]:
    return {
        "url": f"http://{host}/img/{n}.jpg",
        "hashes": {"sha256": hashlib.sha256(f"feed-{n}".encode()).hexdigest()},
        "media_type": "image/jpeg",
        "detected_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "source_ref": f"ref-{n}",
    }


async def new_cases(pool: asyncpg.Pool, scanner: str, numbers: list[int]) -> list[int]:
    """Cases of the scanner token named `scanner`, created as intake creates them."""
    async with pool.acquire() as conn:
        token = await live_token_by_name(conn, scanner)
    assert token is not None
    checked = validate_batch(
        [report(n) for n in numbers], now=datetime.now(UTC), max_skew=timedelta(hours=1)
    )
    valid = [c for c in checked if isinstance(c, ValidReport)]
    stored = await cases.ingest_reports(
        pool, valid, scanner_id=token.id, actor=f"scanner:{scanner}", via="api"
    )
    return [s.case_id for s in stored]


async def move(conn: asyncpg.Connection, case_id: int, *states: CaseState, **detail: Any) -> None:
    """Transition the case through `states` in order (one event each)."""
    for state in states:
        await cases.transition(
            conn, case_id, state, actor="worker:test", stamp=STEPS.get(state), detail=detail
        )


async def notified(conn: asyncpg.Connection, case_id: int) -> None:
    await move(conn, case_id, S.RESOLVING, S.RESOLVED, S.NOTIFIED)
