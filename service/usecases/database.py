"""The database for a short command: a small pool opened from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from service.db.connect import database_url
from service.db.pool import pool_for
from service.settings import Settings


@asynccontextmanager
async def command_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """One connection's pool for a CLI command (the embedded database is started if used)."""
    async with pool_for(database_url(settings), min_size=1, max_size=1) as pool:
        yield pool
