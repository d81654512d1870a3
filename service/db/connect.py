"""Where the database is: the configured DSN, or the embedded server."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg

from service.db.embedded import embedded_database_url
from service.settings import Settings


def database_url(settings: Settings) -> str:
    if settings.dsn:
        return settings.dsn
    return embedded_database_url(settings.data_dir)


async def create_database(server_dsn: str, name: str) -> str:
    """Create an empty database `name` on the server; its DSN."""
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return urlunsplit(urlsplit(server_dsn)._replace(path=f"/{name}"))
