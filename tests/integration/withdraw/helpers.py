"""Reading what a scanner and a hoster would see, for the withdrawal tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from service.sim.smtp import ReceivedMail
from tests.integration.notify.conftest import LINK


async def outcomes(pool: asyncpg.Pool, case_id: int) -> list[tuple[str, str | None]]:
    """The case's outcomes as the scanner feed and webhooks deliver them."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT outcome, reason FROM scanner_outcomes WHERE case_id = $1 ORDER BY id", case_id
        )
    return [(r["outcome"], r["reason"]) for r in rows]


async def case_row(pool: asyncpg.Pool, case_id: int) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM cases WHERE id = $1", case_id)
    return dict(row)


def ack_path(mail: ReceivedMail) -> str:
    text = mail.message.get_body(("plain",)).get_content()
    match = LINK.search(text)
    assert match, "no acknowledgment link in the notice"
    return match.group(1)


def plain_text(mail: ReceivedMail) -> str:
    return str(mail.message.get_body(("plain",)).get_content())


def attachment_names(mail: ReceivedMail) -> list[str]:
    return [part.get_filename() or "" for part in mail.message.walk() if part.get_filename()]


def report(url: str, sha256: str) -> dict[str, Any]:
    return {
        "url": url,
        "hashes": {"sha256": sha256},
        "media_type": "image/png",
        "detected_at": datetime.now(UTC).isoformat(),
        "source_ref": "scan-1",
    }
