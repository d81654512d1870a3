"""API tokens (scanner, hotline, supervisor, probe): created with a secret shown once,
authenticated by the secret's hash, listed without secrets, revoked by name."""

from __future__ import annotations

import asyncpg

from service.db import tokens as token_store
from service.db.tokens import ROLES, Token

__all__ = [
    "ROLES",
    "Token",
    "TokenRefused",
    "authenticate",
    "create_token",
    "list_tokens",
    "live_token",
    "revoke_token",
]


class TokenRefused(ValueError):
    """A token that cannot be created as asked (said why)."""


async def create_token(pool: asyncpg.Pool, name: str, role: str) -> tuple[Token, str]:
    """A new live token and its secret (only the secret's hash is stored)."""
    async with pool.acquire() as conn:
        try:
            return await token_store.create_token(conn, name, role)
        except asyncpg.UniqueViolationError:
            raise TokenRefused(f"a live token named {name!r} exists; revoke it first") from None
        except asyncpg.CheckViolationError:
            raise TokenRefused(
                "a token name is 1-100 characters: letters, digits, . _ @ -"
            ) from None


async def authenticate(pool: asyncpg.Pool, secret: str) -> Token | None:
    """The live token with this secret, or None."""
    async with pool.acquire() as conn:
        return await token_store.authenticate(conn, secret)


async def revoke_token(pool: asyncpg.Pool, name: str) -> bool:
    """Revoke the live token called `name`; False when there is none."""
    async with pool.acquire() as conn:
        return await token_store.revoke_token(conn, name)


async def list_tokens(pool: asyncpg.Pool) -> list[dict[str, object]]:
    """Every token, never its secret."""
    async with pool.acquire() as conn:
        return await token_store.list_tokens(conn)


async def live_token(pool: asyncpg.Pool, name: str) -> Token | None:
    """The live token called `name`, or None."""
    async with pool.acquire() as conn:
        return await token_store.live_token_by_name(conn, name)
