"""Helpers for the pipeline fault tests: a world's reports in, settings out, mail read back.

The service runs against `service.sim.SimulatedInternet` with its lifecycle compressed by the
sim's time scale (as `takedown demo` does); the tests observe only what users would see:
case states in the database and messages at the world's mail server.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import SecretStr

from service.cli.demo import compress
from service.db.cases import ingest_reports
from service.db.tokens import create_token
from service.domain.reports import ValidReport, validate_report
from service.notify.csvpart import parse_items_csv
from service.settings import Settings
from service.sim.scanner import reports as scanner_reports
from service.sim.smtp import ReceivedMail
from service.sim.world import World
from tests.conftest import make_settings

# Beyond these a case has been worked on by the resolve stage (or a hotline decision).
UNWORKED = ("received", "resolving")
_CASE_REF = re.compile(r"TT-C(\d+)")


def fault_settings(db_url: str, sim: dict[str, Any], scale: float, **extra: Any) -> Settings:
    """Settings pointing at the sim, lifecycle compressed, peers' politeness limits off."""
    base = make_settings(db_url)
    values: dict[str, Any] = {
        **compress(base, scale),
        **sim,
        "dns_timeout": 0.5,
        "rdap_timeout": 2.0,
        "rdap_rate_limits": {},
        "rdap_default_rate": 60000.0,
        "smtp_timeout": 5.0,
        "drain_timeout": 1.0,
        "public_url": "http://127.0.0.1:9",  # no ack page: hosters' bots cannot answer
        **extra,
    }
    return make_settings(db_url, **values)


def settings_environment(settings: Settings) -> dict[str, str]:
    """The same settings as TAKEDOWN_* variables for a `takedown worker` subprocess."""
    env = {}
    for name, value in settings.model_dump(exclude_defaults=True).items():
        if value is None:
            continue
        env[f"TAKEDOWN_{name.upper()}"] = _env_text(value)
    return env


def _env_text(value: object) -> str:
    if isinstance(value, SecretStr):  # the DSN and tokens: str() would give '**********'
        return value.get_secret_value()
    if isinstance(value, timedelta):
        return f"PT{value.total_seconds():f}S"  # ISO 8601: what pydantic reads from text
    if isinstance(value, list | dict):
        return json.dumps(value, default=lambda v: v.total_seconds())
    if isinstance(value, bool):
        return str(value).lower()
    return str(getattr(value, "value", value))


def world_reports(world: World) -> list[ValidReport]:
    """What the sim's scanner reports for the world, validated as intake does."""
    now = datetime.now(UTC)
    checked = [
        validate_report(i, raw, now=now, max_skew=timedelta(minutes=5))
        for i, raw in enumerate(scanner_reports(world, now - timedelta(hours=1)))
    ]
    valid = [r for r in checked if isinstance(r, ValidReport)]
    assert len(valid) == len(checked), "the sim's scanner sent a report intake refuses"
    return valid


async def submit(pool: asyncpg.Pool, reports: list[ValidReport]) -> list[int]:
    """Store reports as a scanner's import would; their case ids."""
    async with pool.acquire() as conn:
        scanner = await conn.fetchval("SELECT id FROM tokens WHERE name = 'fault-scanner'")
        if scanner is None:
            scanner = (await create_token(conn, "fault-scanner", "scanner"))[0].id
    results = await ingest_reports(
        pool, reports, scanner_id=scanner, actor="scanner:fault", via="import"
    )
    return [r.case_id for r in results]


async def submit_world(pool: asyncpg.Pool, world: World) -> list[int]:
    return await submit(pool, world_reports(world))


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.1
) -> None:
    """Poll an observable condition until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(every)  # polling with a deadline, not synchronisation


async def states(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT state::text, count(*) FROM cases GROUP BY 1")
    return {row[0]: int(row[1]) for row in rows}


def case_ids_in(mail: ReceivedMail) -> list[int]:
    """The cases a notice covers, read from its CSV attachment (the machine-readable list)."""
    for part in mail.message.walk():
        if part.get_content_subtype() == "csv":
            rows = parse_items_csv(part.get_content())
            return [int(_CASE_REF.fullmatch(row["reference"]).group(1)) for row in rows]  # type: ignore[union-attr]
    raise AssertionError("a notice without its CSV attachment")


def notice_id_of(mail: ReceivedMail) -> int:
    return int(str(mail.message["X-Takedown-Notice-Id"]))
