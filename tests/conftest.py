"""Shared fixtures: a fresh, migrated PostgreSQL database per test.

The template database is migrated once per run (named after the migrations' content, so a
changed migration gets a new template); each test gets `CREATE DATABASE … TEMPLATE`, which
takes a few milliseconds, and it is dropped afterwards.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from service.db.migrate import available_migrations, migrate
from service.db.pool import create_pool
from service.settings import Settings

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def pytest_configure(config: pytest.Config) -> None:
    # Tests of the shared data skip where ../shared is absent (a fresh clone); CI has it and
    # sets TAKEDOWN_TEST_REQUIRE_SHARED=1 so that they cannot silently skip there.
    if os.environ.get("TAKEDOWN_TEST_REQUIRE_SHARED") == "1" and not SHARED.is_dir():
        raise pytest.UsageError(
            f"TAKEDOWN_TEST_REQUIRE_SHARED=1 but {SHARED} is absent: the corpus and schema "
            "tests would skip"
        )


def _find_admin_dsn() -> str:
    """TAKEDOWN_TEST_DATABASE_URL, else the local server, else an embedded one (fresh machine)."""
    configured = os.environ.get("TAKEDOWN_TEST_DATABASE_URL")
    if configured:
        return configured
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return LOCAL_SERVER
    except OSError:
        pass
    from service.db.embedded import embedded_database_url

    data_dir = Path(
        os.environ.get("TAKEDOWN_TEST_DATA_DIR", Path(tempfile.gettempdir()) / "takedown-test-pg")
    )
    return embedded_database_url(data_dir)


ADMIN_DSN = _find_admin_dsn()


def _dsn_for(database: str) -> str:
    parts = urlsplit(ADMIN_DSN)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _template_name() -> str:
    digest = hashlib.sha256()
    for m in available_migrations():
        digest.update(f"{m.version}:{m.name}:{m.sql}".encode())
    return f"takedown_tmpl_{digest.hexdigest()[:12]}"


async def _ensure_template(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute("SELECT pg_advisory_lock(4242)")
        exists = await admin.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate", name
        )
        if not exists:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await admin.execute(f'CREATE DATABASE "{name}"')
            conn = await asyncpg.connect(_dsn_for(name))
            try:
                await migrate(conn)
            finally:
                await conn.close()
            await admin.execute(f'ALTER DATABASE "{name}" WITH is_template = true')
        # When it was last used: another checkout's run cleans up only templates long unused.
        await admin.execute(f"COMMENT ON DATABASE \"{name}\" IS '{_USED_MARK}{time.time():.0f}'")
        await _drop_stale_templates(admin, keep=name)
        await admin.execute("SELECT pg_advisory_unlock(4242)")
    finally:
        await admin.close()


_USED_MARK = "takedown test template, last used at "
_STALE_AFTER = 6 * 3600  # seconds: far longer than any run of the suite


async def _drop_stale_templates(admin: asyncpg.Connection, keep: str) -> None:
    """Templates of earlier migration sets pile up on a developer's server: drop those unused
    for hours. Idle is not enough: a concurrent run of another checkout (CI beside a working
    tree with a new migration) holds no connection to its template between two tests."""
    rows = await admin.fetch(
        "SELECT datname, shobj_description(oid, 'pg_database') AS note FROM pg_database"
        " WHERE datname LIKE 'takedown_tmpl_%' AND datname <> $1",
        keep,
    )
    stale = [row for row in rows if _unused_for(row["note"]) > _STALE_AFTER]
    for row in stale:
        try:
            await admin.execute(f'ALTER DATABASE "{row[0]}" WITH is_template = false')
            await admin.execute(f'DROP DATABASE "{row[0]}"')
        except asyncpg.ObjectInUseError:
            continue  # another checkout's run is using it right now


def _unused_for(note: str | None) -> float:
    """Seconds since a template was last used (infinite: no mark, from an older suite)."""
    if not note or not note.startswith(_USED_MARK):
        return float("inf")
    try:
        return time.time() - float(note.removeprefix(_USED_MARK))
    except ValueError:
        return float("inf")


@pytest.fixture(scope="session")
def template_db() -> str:
    import asyncio

    name = _template_name()
    asyncio.run(_ensure_template(name))
    return name


@asynccontextmanager
async def fresh_database(template_db: str) -> AsyncIterator[str]:
    """DSN of a new database copied from the migrated template, dropped on exit."""
    name = f"takedown_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await admin.close()
    try:
        yield _dsn_for(name)
    finally:
        admin = await asyncpg.connect(ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def db_url(template_db: str) -> AsyncIterator[str]:
    """DSN of a fresh migrated database, dropped after the test."""
    async with fresh_database(template_db) as dsn:
        yield dsn


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(db_url, min_size=1, max_size=10, retry_for=5)
    yield pool
    await pool.close()


def make_settings(db_url: str, **overrides: Any) -> Settings:
    """Settings for tests: never read from the environment beyond what is given."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "allow_private_targets": True,
        "worker_poll_interval": 0.05,
        # Tests scrape /metrics from loopback without a token; tests/security checks that the
        # default (closed) refuses that.
        "metrics_open": True,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(db_url: str) -> Iterator[Settings]:
    yield make_settings(db_url)
