"""Creating cases for ops tests through the real intake path."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from service.db.cases import ingest_reports
from service.db.tokens import create_token
from service.domain.reports import ValidReport, validate_report


def raw_report(n: int, url: str | None = None) -> dict[str, Any]:
    return {
        "url": url or f"http://files{n % 5}.example.net/img/{n}.jpg",
        "hashes": {"sha256": hashlib.sha256(f"ops-{n}".encode()).hexdigest()},
        "media_type": "image/jpeg",
        "detected_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "source_ref": f"ops-{n}",
    }


async def make_cases(pool: asyncpg.Pool, count: int, start: int = 0) -> list[int]:
    """`count` new cases via ingest_reports (the bulk intake statement); their ids."""
    async with pool.acquire() as conn:
        exists = await conn.fetchval("SELECT id FROM tokens WHERE name = 'ops-scanner'")
        token_id = exists or (await create_token(conn, "ops-scanner", "scanner"))[0].id
    now = datetime.now(UTC)
    valid = [
        validate_report(i, raw_report(start + i), now=now, max_skew=timedelta(minutes=5))
        for i in range(count)
    ]
    assert all(isinstance(v, ValidReport) for v in valid)
    results = await ingest_reports(
        pool,
        valid,
        scanner_id=token_id,
        actor="scanner:ops",
        via="test",  # type: ignore[arg-type]
    )
    return [r.case_id for r in results]
