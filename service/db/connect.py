"""Where the database is: the configured DSN, or the embedded server."""

from __future__ import annotations

from service.db.embedded import embedded_database_url
from service.settings import Settings


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return embedded_database_url(settings.data_dir)
