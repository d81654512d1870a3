"""Zero handling: what a probe fetched leaves no trace. A page carrying a unique sentinel is
probed (in process and through the remote probe) until the case is removed; afterwards the
sentinel is nowhere: not in any table, not in any log record or captured output, not in any
file written under the temporary directory meanwhile."""

from __future__ import annotations

import io
import logging
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr

from service.probe.server import create_app
from tests.conftest import make_settings
from tests.integration.probe.cases import FAST, Workers, notified_case, until_state
from tests.integration.probe.conftest import Web
from tests.integration.probe.peers import PAGE, expected_hashes, serve

TOKEN = "probe-secret-for-tests"


async def database_dump(pool: asyncpg.Pool) -> bytes:
    """Every row of every table, as COPY text (what pg_dump --data-only would write)."""
    out = io.BytesIO()
    async with pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE'"
            " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        for t in tables:
            name = f'"{t["table_schema"]}"."{t["table_name"]}"'
            await conn.copy_from_query(f"SELECT * FROM {name}", output=out)
    return out.getvalue()


def files_written_since(started: float) -> list[Path]:
    found = []
    for root, _dirs, files in os.walk(tempfile.gettempdir()):
        for name in files:
            path = Path(root, name)
            try:
                stat = path.stat()
            except OSError:
                continue
            if stat.st_mtime >= started and stat.st_size < 64 * 1024 * 1024 and path.is_file():
                found.append(path)
    return found


@pytest.fixture
async def remote_probe_url() -> AsyncIterator[str]:
    settings = make_settings("postgresql://unused/db", probe_token=SecretStr(TOKEN))
    async for port in serve(create_app(settings)):
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("where", ["local", "remote"])
async def test_sentinel_appears_nowhere_after_probing(
    pool: asyncpg.Pool,
    db_url: str,
    web_origin: Web,
    remote_probe_url: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    where: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    sentinel = f"SENTINEL-{uuid.uuid4().hex}".encode()
    web_origin.origin.bodies["page"] = (PAGE % sentinel, "text/html")
    started = time.time() - 1
    extra = (
        {"probe_url": remote_probe_url, "probe_token": SecretStr(TOKEN)}
        if where == "remote"
        else {}
    )
    case_id = await notified_case(pool, web_origin.url("page"), expected_hashes())
    async with Workers(pool, make_settings(db_url, **FAST | extra)):
        await until_state(pool, case_id, "removed")
    assert web_origin.origin.hits["page"] >= 2  # the sentinel really was served and hashed
    assert sentinel not in await database_dump(pool)
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert sentinel.decode() not in logged
    captured = capfd.readouterr()
    assert sentinel.decode() not in captured.out + captured.err
    for path in files_written_since(started):
        assert sentinel not in path.read_bytes(), path
    # Controls: the removal was logged (logs were captured), and the dump does see rows.
    assert "removal confirmed" in logged
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE cases SET classification = 'control-marker' WHERE id = $1", case_id
        )
    assert b"control-marker" in await database_dump(pool)
