"""Migrating from empty works, records every migration, and running again is a no-op."""

from __future__ import annotations

import uuid

import asyncpg

from service.db.migrate import available_migrations, migrate, pending_migrations
from tests.conftest import ADMIN_DSN, _dsn_for


async def _empty_database() -> str:
    name = f"takedown_empty_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return name


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def test_migrate_from_empty_then_again_is_a_no_op() -> None:
    name = await _empty_database()
    try:
        conn = await asyncpg.connect(_dsn_for(name))
        first = await migrate(conn)
        second = await migrate(conn)
        recorded = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
        tables = await conn.fetchval("SELECT count(*) FROM pg_tables WHERE tablename = 'cases'")
        await conn.close()
    finally:
        await _drop(name)
    assert [m.version for m in first] == [m.version for m in available_migrations()]
    assert second == []
    assert [r["version"] for r in recorded] == [m.version for m in available_migrations()]
    assert tables == 1


async def test_concurrent_migrators_apply_each_migration_once() -> None:
    import asyncio

    name = await _empty_database()
    try:
        conns = [await asyncpg.connect(_dsn_for(name)) for _ in range(3)]
        results = await asyncio.gather(*(migrate(c) for c in conns))
        pending = await pending_migrations(conns[0])
        for c in conns:
            await c.close()
    finally:
        await _drop(name)
    applied = sorted(m.version for result in results for m in result)
    assert applied == [m.version for m in available_migrations()]
    assert pending == []


async def test_event_log_is_append_only(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        token = await conn.fetchval(
            "INSERT INTO tokens (name, role, secret_sha256) VALUES ('s', 'scanner', $1) RETURNING id",
            b"x" * 32,
        )
        case_id = await conn.fetchval(
            "INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id, source_ref,"
            " detected_at) VALUES ('http://a.example/', 'http://a.example/', 'a.example', $1,"
            " 'image/png', $2, 'r', now()) RETURNING id",
            "a" * 64,
            token,
        )
        await conn.execute(
            "INSERT INTO case_events (case_id, actor, kind) VALUES ($1, 'test', 'note')", case_id
        )
        try:
            await conn.execute("UPDATE case_events SET actor = 'mallory'")
        except asyncpg.InsufficientPrivilegeError as exc:
            refused = str(exc)
        else:
            refused = ""
        actors = await conn.fetch("SELECT actor FROM case_events")
    assert "append-only" in refused
    assert [a["actor"] for a in actors] == ["test"]


async def test_a_case_without_any_hash_is_refused_by_the_schema(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        token = await conn.fetchval(
            "INSERT INTO tokens (name, role, secret_sha256) VALUES ('s', 'scanner', $1) RETURNING id",
            b"y" * 32,
        )
        try:
            await conn.execute(
                "INSERT INTO cases (url, url_original, host, media_type, scanner_id, source_ref,"
                " detected_at) VALUES ('http://a.example/', 'x', 'a.example', 'image/png', $1, 'r',"
                " now())",
                token,
            )
        except asyncpg.CheckViolationError as exc:
            constraint = exc.constraint_name
        else:
            constraint = None
    assert constraint == "cases_has_hash"
