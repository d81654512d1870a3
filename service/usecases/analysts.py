"""Analyst accounts: login (password, then TOTP or a recovery code), sessions, second factor.

Each function owns its connection and transaction. Password hashing is CPU work of tens of
milliseconds, so it runs in a thread, never on the event loop; an unknown user costs the
same hashing as a known one (no enumeration by timing). Account events are logged on the
`service.audit.analysts` logger (who, what; never a password, code or session secret).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from service.db import analysts_repo, oversight_repo
from service.domain import passwords, totp

audit = logging.getLogger("service.audit.analysts")


@dataclass(frozen=True)
class SessionAnalyst:
    """Who a live session belongs to."""

    id: int
    username: str
    role: str
    totp_enrolled: bool


@dataclass(frozen=True)
class Enrolment:
    """A second factor waiting for its first code: the secret and its otpauth:// URI."""

    secret: str
    uri: str


def session_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def log_in(
    pool: asyncpg.Pool, username: str, password: str, code: str, ttl: timedelta
) -> str | None:
    """A new session's secret when the password (and, once enrolled, the code) is right."""
    async with pool.acquire() as conn:
        row = await analysts_repo.login_row(conn, username)
    stored = row["password_hash"] if row else None
    verified = await asyncio.to_thread(passwords.verify, password, stored)
    if row is None or not verified.ok:
        audit.info("login refused for %r: unknown user or wrong password", username)
        return None
    async with pool.acquire() as conn, conn.transaction():
        if row["totp_enrolled"] and not await _second_factor(conn, row, code):
            audit.info("login refused for %r: wrong or reused second-factor code", username)
            return None
        if verified.needs_rehash:
            await analysts_repo.set_password_hash(conn, row["id"], await _rehash(password))
        secret = secrets.token_urlsafe(32)
        await oversight_repo.create_session(conn, session_digest(secret), row["id"], ttl)
    audit.info("login of %r", username)
    return secret


async def _rehash(password: str) -> str:
    return await asyncio.to_thread(passwords.rehash, password)


async def _second_factor(conn: asyncpg.Connection, row: dict[str, Any], code: str) -> bool:
    step = totp.matching_step(row["totp_secret"], code, datetime.now(UTC))
    if step is not None:
        return await analysts_repo.totp_step_used(conn, row["id"], step)
    if totp.looks_like_recovery_code(code):
        used = await analysts_repo.use_recovery_code(conn, row["id"], totp.recovery_digest(code))
        if used:
            audit.warning("recovery code used by %r", row["username"])
        return used
    return False


async def session_analyst(
    pool: asyncpg.Pool, secret: str, idle: timedelta
) -> SessionAnalyst | None:
    """The analyst of a live session (marking it used), or None when over or idle."""
    async with pool.acquire() as conn:
        row = await analysts_repo.touch_session(conn, session_digest(secret), idle)
    if row is None:
        return None
    return SessionAnalyst(row["id"], row["username"], row["role"], row["totp_enrolled"])


async def log_out(pool: asyncpg.Pool, secret: str) -> None:
    async with pool.acquire() as conn:
        await oversight_repo.end_session(conn, session_digest(secret))


async def set_password(
    pool: asyncpg.Pool, username: str, password: str, role: str
) -> dict[str, Any]:
    """Create an analyst or reset its password and role; a reset ends its sessions."""
    hashed = await asyncio.to_thread(passwords.hash_password, password)
    async with pool.acquire() as conn, conn.transaction():
        row = await analysts_repo.upsert(conn, username, hashed, role)
        ended = await analysts_repo.end_sessions_of(conn, row["id"], "password reset")
    audit.info("password set for %r (%d sessions ended)", username, ended)
    return row | {"sessions_ended": ended}


async def disable(pool: asyncpg.Pool, username: str) -> int | None:
    """Disable an analyst and end its sessions; the number ended, or None if no such one."""
    async with pool.acquire() as conn, conn.transaction():
        analyst_id = await analysts_repo.disable(conn, username)
        if analyst_id is None:
            return None
        ended = await analysts_repo.end_sessions_of(conn, analyst_id, "disabled")
    audit.info("analyst %r disabled (%d sessions ended)", username, ended)
    return ended


async def sessions(pool: asyncpg.Pool, username: str | None = None) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return await analysts_repo.sessions(conn, username)


async def revoke_session(pool: asyncpg.Pool, short_id: str) -> bool:
    async with pool.acquire() as conn:
        revoked = await analysts_repo.revoke_session(conn, short_id.lower()) is not None
    if revoked:
        audit.info("session %s revoked", short_id)
    return revoked


async def begin_totp(pool: asyncpg.Pool, analyst_id: int, username: str, issuer: str) -> Enrolment:
    """A new secret for an analyst not yet enrolled (replacing an unconfirmed one)."""
    secret = totp.new_secret()
    async with pool.acquire() as conn:
        await analysts_repo.begin_totp(conn, analyst_id, secret)
    return Enrolment(secret, totp.provisioning_uri(secret, username, issuer))


async def confirm_totp(pool: asyncpg.Pool, analyst_id: int, code: str) -> list[str] | None:
    """Enrol with the first right code: the recovery codes (shown once), or None."""
    async with pool.acquire() as conn, conn.transaction():
        row = await analysts_repo.by_id(conn, analyst_id)
        if row is None or row["totp_enrolled"] or not row["totp_secret"]:
            return None
        step = totp.matching_step(row["totp_secret"], code, datetime.now(UTC))
        if step is None:
            return None
        await analysts_repo.confirm_totp(conn, analyst_id, step)
        codes = totp.recovery_codes()
        digests = [totp.recovery_digest(c) for c in codes]
        await analysts_repo.replace_recovery_codes(conn, analyst_id, digests)
    audit.info("second factor enrolled for %r", row["username"])
    return codes


async def reset_totp(pool: asyncpg.Pool, username: str) -> bool:
    """Remove an analyst's second factor (lost device); it enrols again at the next login."""
    async with pool.acquire() as conn, conn.transaction():
        analyst_id = await analysts_repo.reset_totp(conn, username)
        if analyst_id is None:
            return False
        await analysts_repo.replace_recovery_codes(conn, analyst_id, [])
        await analysts_repo.end_sessions_of(conn, analyst_id, "second factor reset")
    audit.warning("second factor reset for %r", username)
    return True
