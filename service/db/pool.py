"""asyncpg pool with JSON codecs and a connect retry that says clearly what is wrong."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import asyncpg

from service.db.migrate import require_current_schema
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


_DRIVER_OUTAGES = (
    DatabaseUnavailable,
    asyncpg.PostgresConnectionError,
    *(error for error in CONNECTION_ERRORS if error.__module__.startswith("asyncpg")),
)


def is_outage(exc: BaseException) -> bool:
    """Whether an error means the database is away (rather than a bug or a missing file).

    asyncpg's own connection errors always do. An OSError or timeout does only when raised
    inside asyncpg: a missing file is an OSError too, and so is jinja2's TemplateNotFound,
    which were reported as "database unavailable".
    """
    if isinstance(exc, _DRIVER_OUTAGES):
        return True
    return isinstance(exc, OSError | asyncio.TimeoutError) and _raised_in_asyncpg(exc)


def _raised_in_asyncpg(exc: BaseException) -> bool:
    frame = exc.__traceback__
    while frame is not None:
        if str(frame.tb_frame.f_globals.get("__name__", "")).startswith("asyncpg"):
            return True
        frame = frame.tb_next
    return False


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
    """The DSN without its password, for messages and logs.

    Parsed as a URL: the password may sit in the authority (user:password@) or in the query
    (?password=…, libpq's keyword); either is replaced with ***.
    """
    try:
        parts = urlsplit(dsn)
        user, password = parts.username, parts.password
        host = parts.netloc.rpartition("@")[2]
    except ValueError:
        return "(an unreadable URL)"
    if user is not None:
        host = f"{user}:***@{host}" if password is not None else f"{user}@{host}"
    query = urlencode(
        [
            (k, "***" if k.lower() in _SECRET_PARAMETERS else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*/",
    )
    return f"{parts.scheme}://{host}{parts.path}" + (f"?{query}" if query else "")


_SECRET_PARAMETERS = frozenset({"password", "sslpassword", "passfile"})


@asynccontextmanager
async def pool_for(
    dsn: str, *, migrated: bool = True, **kwargs: Any
) -> AsyncIterator[asyncpg.Pool]:
    """A pool for one command; with `migrated`, refuse a database whose schema is not current."""
    pool = await create_pool(dsn, **kwargs)
    try:
        if migrated:
            async with pool.acquire() as conn:
                await require_current_schema(conn)
        yield pool
    finally:
        await pool.close()
