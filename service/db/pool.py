"""asyncpg pool with JSON codecs and a connect retry that says clearly what is wrong."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from service.errors import ConfigurationError, DatabaseUnavailable

log = logging.getLogger(__name__)

# Errors that mean "the server is not there (yet)", as opposed to bad credentials or SQL.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    # A connection whose server vanished mid-operation can be left in a broken protocol state
    # (MagicStack/asyncpg#1069); the pool terminates it when its reset fails on release.
    asyncpg.InternalClientError,
)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _skip_session_reset(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default session reset (one round trip per release).

    The service keeps no session state on pooled connections: no SET, no LISTEN, no cursors
    outside transactions, and advisory locks are released explicitly. asyncpg still rolls back
    an open transaction before calling this.
    """


async def connect_once(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn, timeout=10)
    await _init_connection(conn)
    return conn


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, retry_for: float = 30.0
) -> asyncpg.Pool:
    """Open a pool, retrying while the server is starting or briefly away."""
    deadline = time.monotonic() + retry_for
    delay = 0.2
    while True:
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                init=_init_connection,
                reset=_skip_session_reset,
                timeout=10,
            )
            assert pool is not None
            return pool
        except asyncpg.ClientConfigurationError as exc:  # an InterfaceError: before the retry
            raise _unusable_dsn(dsn, exc) from exc
        except CONNECTION_ERRORS as exc:
            if time.monotonic() >= deadline:
                raise DatabaseUnavailable(
                    f"cannot reach PostgreSQL at {redact_dsn(dsn)} after {retry_for:.0f}s: {exc}. "
                    "Is the server running, and is TAKEDOWN_DATABASE_URL right?"
                ) from exc
            log.warning("database not reachable yet (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
        except asyncpg.PostgresError as exc:
            # The server answered and said no (wrong password, unknown role or database):
            # waiting will not change that.
            raise ConfigurationError(
                f"PostgreSQL at {redact_dsn(dsn)} refused the connection: {exc}. "
                "Check the user, password and database name in TAKEDOWN_DATABASE_URL."
            ) from exc
        except ValueError as exc:  # asyncpg's DSN parsing (a port that is not a number, …)
            raise _unusable_dsn(dsn, exc) from exc


def _unusable_dsn(dsn: str, exc: Exception) -> ConfigurationError:
    return ConfigurationError(
        f"TAKEDOWN_DATABASE_URL is not a usable PostgreSQL URL ({redact_dsn(dsn)}): {exc}. "
        "Expected postgresql://user:password@host:port/database."
    )


def redact_dsn(dsn: str) -> str:
    """The DSN without its password, for messages and logs."""
    if "@" not in dsn or "://" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"


@asynccontextmanager
async def pool_for(dsn: str, **kwargs: Any) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(dsn, **kwargs)
    try:
        yield pool
    finally:
        await pool.close()
