"""API tokens: the secret is shown once; only its SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import asyncpg

from service.db.queries import q

# "supervisor": a hotline token that may also place and lift law-enforcement holds.
ROLES = ("scanner", "hotline", "supervisor", "probe")
SECRET_PREFIX = "tdt_"  # noqa: S105 (a visible prefix so leaked tokens are recognisable)


@dataclass(frozen=True)
class Token:
    id: int
    name: str
    role: str


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


async def create_token(conn: asyncpg.Connection, name: str, role: str) -> tuple[Token, str]:
    """Create a token and return it with its secret (which is not stored)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    row = await conn.fetchrow(q("create_token"), name, role, hash_secret(secret))
    return Token(id=row["id"], name=name, role=role), secret


async def authenticate(conn: asyncpg.Connection, secret: str) -> Token | None:
    """The live token for this secret, or None."""
    digest = hash_secret(secret)
    row = await conn.fetchrow(q("token_by_secret_hash"), digest)
    # The lookup is by hash already; the constant-time compare makes that explicit.
    if row is None or not hmac.compare_digest(bytes(row["secret_sha256"]), digest):
        return None
    return Token(id=row["id"], name=row["name"], role=row["role"])


async def revoke_token(conn: asyncpg.Connection, name: str) -> bool:
    return await conn.fetchval(q("revoke_token"), name) is not None


async def list_tokens(conn: asyncpg.Connection) -> list[dict[str, object]]:
    return [dict(r) for r in await conn.fetch(q("list_tokens"))]


async def live_token_by_name(conn: asyncpg.Connection, name: str) -> Token | None:
    row = await conn.fetchrow(q("live_token_by_name"), name)
    return Token(id=row["id"], name=row["name"], role=row["role"]) if row else None
