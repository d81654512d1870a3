"""service/db/schema.sql is what migrating from empty gives; the Python states are the database's."""

from __future__ import annotations

from pathlib import Path

import asyncpg

import service.db
from service.db.schema import schema_of
from service.domain.states import CaseState

SCHEMA_FILE = Path(service.db.__file__).parent / "schema.sql"


async def test_schema_sql_matches_the_migrated_database(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        current = await schema_of(conn)
    assert SCHEMA_FILE.read_text("utf-8") == current, (
        "service/db/schema.sql is stale: python -m service.db.schema > service/db/schema.sql"
    )


async def test_the_python_case_states_are_the_postgres_enum_in_order(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        labels = await conn.fetchval("SELECT enum_range(NULL::case_state)::text[]")
    assert labels == [state.value for state in CaseState]
