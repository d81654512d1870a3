"""The database's lifecycle as the entry points see it: where it is, opening a pool, migrating,
readiness. The CLI, the web app and the worker runtime open and migrate the database through
these names and never import service.db (the import-linter contract)."""

from __future__ import annotations

from service.db.connect import create_database, database_url
from service.db.migrate import Migration, migrate, pending_migrations
from service.db.pool import CONNECTION_ERRORS, create_pool, is_outage, pool_for

__all__ = [
    "CONNECTION_ERRORS",
    "Migration",
    "create_database",
    "create_pool",
    "database_url",
    "is_outage",
    "migrate",
    "pending_migrations",
    "pool_for",
]
