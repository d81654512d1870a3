"""Numbered SQL migrations: applied in order, each in a transaction, under an advisory lock."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from service.errors import SchemaNotCurrent

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process that migrates.
MIGRATION_LOCK_KEY = 0x7A6B_0001
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    folder = resources.files("service.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return found


async def applied_versions(conn: asyncpg.Connection) -> set[int]:
    rows = await conn.fetch("SELECT version FROM schema_migrations")
    return {row["version"] for row in rows}


async def migrate(conn: asyncpg.Connection) -> list[Migration]:
    """Apply every pending migration; returns the ones applied (empty when up to date)."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = await applied_versions(conn)
        applied = []
        for migration in available_migrations():
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            log.info("applied migration %04d_%s", migration.version, migration.name)
            applied.append(migration)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def pending_migrations(conn: asyncpg.Connection) -> list[Migration]:
    """Migrations not yet applied (for /readyz)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    done = await applied_versions(conn) if exists else set()
    return [m for m in available_migrations() if m.version not in done]


async def require_current_schema(conn: asyncpg.Connection) -> None:
    """Refuse to work on a database this code's migrations have not all been applied to.

    Without this, a command against a fresh or older database fails deep inside a query
    (`relation "tokens" does not exist`) instead of saying what to do.
    """
    pending = await pending_migrations(conn)
    if not pending:
        return
    if len(pending) == len(available_migrations()):
        state = "has no schema yet (it was never migrated)"
    else:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending[:3])
        more = f" and {len(pending) - 3} more" if len(pending) > 3 else ""
        state = f"is out of date: {len(pending)} migration(s) pending ({names}{more})"
    raise SchemaNotCurrent(f"the database {state}; run `takedown migrate` first")
