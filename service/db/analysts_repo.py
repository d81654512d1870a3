"""Analyst accounts, second factor and sessions: one typed function per query (analysts.sql)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from service.db.queries import q

Row = dict[str, Any]


async def login_row(conn: asyncpg.Connection, username: str) -> Row | None:
    row = await conn.fetchrow(q("analysts_login_row"), username)
    return dict(row) if row else None


async def by_id(conn: asyncpg.Connection, analyst_id: int) -> Row | None:
    row = await conn.fetchrow(q("analysts_by_id"), analyst_id)
    return dict(row) if row else None


async def set_password_hash(conn: asyncpg.Connection, analyst_id: int, hashed: str) -> None:
    await conn.execute(q("analysts_set_password_hash"), analyst_id, hashed)


async def upsert(conn: asyncpg.Connection, username: str, hashed: str, role: str) -> Row:
    return dict(await conn.fetchrow(q("analysts_upsert"), username, hashed, role))


async def disable(conn: asyncpg.Connection, username: str) -> int | None:
    value: int | None = await conn.fetchval(q("analysts_disable"), username)
    return value


async def end_sessions_of(conn: asyncpg.Connection, analyst_id: int, reason: str) -> int:
    status: str = await conn.execute(q("analysts_end_sessions_of"), analyst_id, reason)
    return int(status.split()[-1])


async def touch_session(conn: asyncpg.Connection, digest: bytes, idle: timedelta) -> Row | None:
    row = await conn.fetchrow(q("analysts_touch_session"), digest, idle)
    return dict(row) if row else None


async def sessions(conn: asyncpg.Connection, username: str | None) -> list[Row]:
    return [dict(r) for r in await conn.fetch(q("analysts_sessions"), username)]


async def revoke_session(conn: asyncpg.Connection, short_id: str) -> int | None:
    value: int | None = await conn.fetchval(q("analysts_revoke_session"), short_id)
    return value


async def begin_totp(conn: asyncpg.Connection, analyst_id: int, secret: str) -> None:
    await conn.execute(q("analysts_begin_totp"), analyst_id, secret)


async def confirm_totp(conn: asyncpg.Connection, analyst_id: int, step: int) -> None:
    await conn.execute(q("analysts_confirm_totp"), analyst_id, step)


async def totp_step_used(conn: asyncpg.Connection, analyst_id: int, step: int) -> bool:
    return await conn.fetchval(q("analysts_totp_step_used"), analyst_id, step) is not None


async def reset_totp(conn: asyncpg.Connection, username: str) -> int | None:
    value: int | None = await conn.fetchval(q("analysts_reset_totp"), username)
    return value


async def replace_recovery_codes(
    conn: asyncpg.Connection, analyst_id: int, digests: list[bytes]
) -> None:
    await conn.execute(q("analysts_replace_recovery_codes"), analyst_id, digests)


async def use_recovery_code(conn: asyncpg.Connection, analyst_id: int, digest: bytes) -> bool:
    return await conn.fetchval(q("analysts_use_recovery_code"), analyst_id, digest) is not None
