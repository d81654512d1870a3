"""A fresh, migrated database for one benchmark run (dropped afterwards)."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from service.db.migrate import migrate


def admin_dsn() -> str:
    """TAKEDOWN_DATABASE_URL, else the local server on 5432, else an embedded server."""
    configured = os.environ.get("TAKEDOWN_DATABASE_URL")
    if configured:
        return configured
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return "postgresql://postgres@127.0.0.1:5432/postgres"
    except OSError:
        from service.db.embedded import embedded_database_url

        return embedded_database_url(Path(tempfile.gettempdir()) / "takedown-bench-pg")


def dsn_for(admin: str, database: str) -> str:
    return urlunsplit(urlsplit(admin)._replace(path=f"/{database}"))


@asynccontextmanager
async def fresh_database(prefix: str = "bench") -> AsyncIterator[str]:
    admin = admin_dsn()
    name = f"takedown_{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    dsn = dsn_for(admin, name)
    try:
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        await conn.close()
        yield dsn
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def print_ratio(stage: str, ours: float, raw: float, unit: str, target: float) -> None:
    ratio = ours / raw if raw else 0.0
    verdict = "meets" if ratio >= target else "BELOW"
    print(
        f"{stage:<10} ours {ours:>10.0f} {unit}  raw {raw:>10.0f} {unit}  "
        f"ratio {ratio:5.2f}  (target ≥ {target}: {verdict})"
    )
