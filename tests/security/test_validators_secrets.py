"""Item 8: validators match whole values; secrets stay out of logs and reprs; /metrics is
closed without a token; `serve` refuses the compose file's example secrets."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.cli.ops import EXAMPLE_SECRETS
from service.db.pool import redact_dsn
from service.domain.notices import is_valid_address
from service.notify import ack
from service.notify.mime import UnsafeHeader, header_lines
from service.settings import Settings
from service.web.app import create_app
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


async def test_an_ack_token_with_a_trailing_newline_is_no_token(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await ack.lookup(conn, "A" * 43 + "\n") is None


def test_a_trailing_newline_is_not_a_valid_address_or_header() -> None:
    assert is_valid_address("abuse@host.example")
    assert not is_valid_address("abuse@host.example\n")
    header_lines([("Subject", "fine")])
    with pytest.raises(UnsafeHeader):
        header_lines([("Subject", "injected\n")])
    with pytest.raises(UnsafeHeader):
        header_lines([("X-Name\n", "value")])


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://takedown:s3cret-pw@db.example:5432/takedown",
        "postgresql://takedown@db.example/takedown?password=s3cret-pw&sslmode=require",
        "postgresql://takedown:s3cret%40pw@db.example/takedown",
        "postgresql:///takedown?host=/run/pg&password=s3cret-pw",
    ],
)
def test_the_dsn_is_redacted_wherever_the_password_is(dsn: str) -> None:
    redacted = redact_dsn(dsn)
    assert "s3cret" not in redacted
    assert "db.example" in redacted or "/run/pg" in redacted
    assert "takedown" in redacted


def test_the_database_url_is_a_secret_in_reprs() -> None:
    settings = Settings(database_url="postgresql://u:s3cret-pw@h/db")
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings.model_dump())
    assert settings.dsn == "postgresql://u:s3cret-pw@h/db"


async def test_metrics_are_closed_without_a_token_unless_opened(
    db_url: str, pool: asyncpg.Pool
) -> None:
    closed = make_settings(db_url, metrics_open=False)
    async with TestClient(TestServer(create_app(closed, pool))) as client:
        refused = await client.get("/metrics")  # from loopback, as through a local proxy
    async with TestClient(TestServer(create_app(make_settings(db_url), pool))) as client:
        opened = await client.get("/metrics")
    assert refused.status == 403 and opened.status == 200


def test_the_example_secrets_are_the_compose_files_defaults() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    defaults = set(re.findall(r"\$\{\w*(?:PASSWORD|TOKEN|SECRET)\w*:-([^}]+)\}", compose))
    assert defaults and defaults <= EXAMPLE_SECRETS


@pytest.mark.parametrize(
    "env",
    [
        {"TAKEDOWN_METRICS_TOKEN": "change-me-metrics"},
        {"TAKEDOWN_DATABASE_URL": "postgresql://takedown:takedown-dev-only@127.0.0.1:1/takedown"},
    ],
)
async def test_serve_refuses_the_example_secrets(env: dict[str, str], db_url: str) -> None:
    full = {**os.environ, "TAKEDOWN_DATABASE_URL": db_url, "TAKEDOWN_LISTEN": "127.0.0.1:0", **env}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "serve",
        env=full, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 1
    assert "example secrets" in err.decode() and "Traceback" not in err.decode()
