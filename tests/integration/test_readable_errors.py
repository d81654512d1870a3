"""Errors a user meets in the first hour say what is wrong and what to do, never a traceback."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.db.migrate import available_migrations
from service.db.pool import is_outage
from service.settings import Settings
from service.web.app import create_app
from tests.conftest import ADMIN_DSN, _dsn_for, make_settings
from tests.integration.cli_runner import takedown


@pytest.fixture
async def empty_db() -> AsyncIterator[str]:
    """A database that was never migrated."""
    name = f"takedown_empty_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield _dsn_for(name)
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


@pytest.mark.parametrize(
    "command",
    [("token", "list"), ("token", "create", "--role", "scanner", "--name", "s"), ("stats",)],
)
async def test_a_command_against_a_never_migrated_database_says_to_migrate(
    empty_db: str, command: tuple[str, ...]
) -> None:
    result = await takedown(*command, db_url=empty_db)
    assert result.code == 1, result.err
    assert "never migrated" in result.err and "run `takedown migrate`" in result.err
    assert "Traceback" not in result.err + result.out


async def test_a_command_against_an_out_of_date_database_names_what_is_pending(
    db_url: str,
) -> None:
    last = available_migrations()[-1]
    conn = await asyncpg.connect(db_url)
    await conn.execute("DELETE FROM schema_migrations WHERE version = $1", last.version)
    await conn.close()
    result = await takedown("token", "list", db_url=db_url)
    assert result.code == 1 and "Traceback" not in result.err
    assert f"out of date: 1 migration(s) pending ({last.version:04d}_{last.name})" in result.err
    assert "run `takedown migrate`" in result.err


async def test_migrate_then_the_command_works(empty_db: str) -> None:
    assert (await takedown("migrate", db_url=empty_db)).code == 0
    result = await takedown("token", "list", db_url=empty_db)
    assert result.code == 0, result.err


async def test_a_table_missing_behind_the_schema_record_still_says_to_migrate(
    db_url: str,
) -> None:
    conn = await asyncpg.connect(db_url)
    await conn.execute("DROP TABLE tokens CASCADE")
    await conn.close()
    result = await takedown("token", "list", db_url=db_url)
    assert result.code == 1 and "Traceback" not in result.err
    assert 'relation "tokens" does not exist' in result.err
    assert "run `takedown migrate`" in result.err


@pytest.mark.parametrize("command", ["serve", "worker"])
async def test_serve_and_worker_refuse_to_start_without_their_templates(
    db_url: str, tmp_path: Path, command: str
) -> None:
    env = {"TAKEDOWN_TEMPLATES_DIR": str(tmp_path / "no-such-folder")}
    result = await takedown(command, db_url=db_url, env=env)
    assert result.code == 1 and "Traceback" not in result.err
    assert "cannot start: files the service reads at run time are missing" in result.err
    assert f"TAKEDOWN_TEMPLATES_DIR {tmp_path / 'no-such-folder'} is not a folder" in result.err


@pytest.fixture
async def broken_template_client(
    db_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> AsyncIterator[TestClient]:
    # A hotline's own login page that includes a template nobody wrote.
    login = tmp_path / "pages" / "oversight" / "login.html.j2"
    login.parent.mkdir(parents=True)
    login.write_text('{% include "pages/oversight/nowhere.html.j2" %}', encoding="utf-8")
    settings: Settings = make_settings(db_url, templates_dir=tmp_path)
    client = TestClient(TestServer(create_app(settings, pool)))
    await client.start_server()
    yield client
    await client.close()


async def test_a_missing_template_is_a_logged_500_not_a_database_outage(
    broken_template_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="service.web.middlewares")
    resp = await broken_template_client.get("/oversight/login", headers={"Accept": "text/html"})
    body = await resp.text()
    assert resp.status == 500 and "database" not in body.lower()
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        "TemplateNotFound: 'pages/oversight/nowhere.html.j2' not found" in m for m in messages
    )
    assert not any("database unavailable" in m for m in messages)


async def test_only_errors_raised_by_the_database_driver_are_outages() -> None:
    try:
        await asyncpg.connect("postgresql://nobody@127.0.0.1:1/none", timeout=5)
    except OSError as exc:
        assert is_outage(exc)
    assert not is_outage(FileNotFoundError("templates/pages/ack.html.j2"))
    assert not is_outage(ConnectionRefusedError("some other peer"))
