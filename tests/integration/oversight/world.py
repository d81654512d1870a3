"""Cases with routing decisions, stage runners and a loopback SMTP sink for oversight tests."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service.db import cases, jobs, notify_repo
from service.db.tokens import create_token
from service.domain.states import CaseState
from service.settings import Settings
from service.sim.smtp import MailSink, SmtpServer
from service.workers.loop import ClaimLoop, loop_config
from service.workers.registry import build_stage

HOSTER_DESK = "abuse@never-removes.example"
ROUTE: dict[str, Any] = {
    "hoster": "Never Removes Ltd",
    "asn": 64500,
    "country": "NL",
    "recipients": [
        {
            "address": HOSTER_DESK,
            "role": "abuse",
            "source": "rdap:abuse-c",
            "confidence": "high",
            "rank": 1,
        },
        {
            "address": "abuse@transit.example",
            "role": "abuse",
            "source": "abusix",
            "confidence": "low",
            "rank": 2,
        },
    ],
    "cdn": {"name": "FastCDN", "abuse": "abuse@cdn.example"},
    "registrar": {"name": "Registrar Inc", "abuse": "abuse@registrar.example"},
    "hotline": {"country": "NL", "name": "Meldpunt", "address": "hotline@meldpunt.example"},
}


async def scanner(conn: asyncpg.Connection) -> int:
    token, _ = await create_token(conn, f"scanner-{secrets.token_hex(3)}", "scanner")
    return token.id


async def add_case(
    conn: asyncpg.Connection,
    scanner_id: int,
    url: str,
    *,
    route: dict[str, Any] | None = None,
    sha256: str | None = None,
    detected_at: datetime | None = None,
) -> int:
    """A case received and resolved with `route` (the resolver's decision), ready for notice."""
    host = url.split("/")[2]
    case_id: int = await conn.fetchval(
        "INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id, source_ref,"
        " detected_at) VALUES ($1, $1, $2, $3, 'image/png', $4, $5, $6) RETURNING id",
        url,
        host,
        sha256 or secrets.token_hex(32),
        scanner_id,
        secrets.token_hex(4),
        detected_at or datetime.now(UTC),
    )
    await cases.transition(conn, case_id, CaseState.RESOLVING, actor="test")
    if route is not None:
        await route_case(conn, case_id, route)
        await cases.transition(conn, case_id, CaseState.RESOLVED, actor="test", stamp="resolved_at")
    return case_id


async def route_case(conn: asyncpg.Connection, case_id: int, route: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO case_routes (case_id, hoster, asn, country, recipients, cdn, registrar, hotline)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        case_id,
        route.get("hoster"),
        route.get("asn"),
        route.get("country"),
        route.get("recipients", []),
        route.get("cdn"),
        route.get("registrar"),
        route.get("hotline"),
    )


async def send_to_outbox(pool: asyncpg.Pool, case_ids: list[int]) -> None:
    async with pool.acquire() as conn:
        for case_id in case_ids:
            await jobs.enqueue_for_case(conn, "outbox", case_id)


@asynccontextmanager
async def smtp_sink() -> AsyncIterator[tuple[MailSink, SmtpServer]]:
    sink = MailSink(set(), time.monotonic)
    sink.accept_all = True
    server = SmtpServer(sink)
    await server.start()
    try:
        yield sink, server
    finally:
        await server.stop()


@asynccontextmanager
async def running_stages(
    pool: asyncpg.Pool, settings: Settings, names: tuple[str, ...]
) -> AsyncIterator[None]:
    stop = asyncio.Event()
    loops = [
        ClaimLoop(pool, build_stage(n, pool, settings), loop_config(settings), stop) for n in names
    ]
    tasks = [asyncio.create_task(loop.run()) for loop in loops]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 30.0, interval: float = 0.05
) -> Any:
    """Poll an observable condition until it holds (returns its truthy value) or time out."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


async def events(pool: asyncpg.Pool, case_id: int, kind: str | None = None) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT kind, actor, detail, to_state FROM case_events WHERE case_id = $1"
            " AND ($2::text IS NULL OR kind = $2) ORDER BY id",
            case_id,
            kind,
        )
    return [dict(r) for r in rows]


async def takedown_with_stdin(*args: str, db_url: str, stdin: str = "") -> tuple[int, str, str]:
    """Run the real `takedown` command with input on stdin (passwords)."""
    import os
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        *args,
        env={**os.environ, "TAKEDOWN_DATABASE_URL": db_url},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout=100)
    return proc.returncode or 0, out.decode(), err.decode()


async def sent_notice(
    conn: asyncpg.Connection, recipient: str, case_ids: list[int], kind: str = "notice"
) -> int:
    """A notice about `case_ids` as the notify stage leaves it once the mail server took it."""
    notice_id, _ = await notify_repo.open_batch(
        conn,
        recipient=recipient,
        kind=kind,
        role="abuse",
        language="en",
        country="NL",
        mail_from="hotline@example.org",
    )
    for case_id in case_ids:
        await notify_repo.add_item(conn, notice_id, case_id)
    await conn.execute(
        "UPDATE notices SET state = 'sent', sealed_at = now(), sent_at = now() WHERE id = $1",
        notice_id,
    )
    return notice_id
