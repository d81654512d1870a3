"""Statistics reads: aggregations over a few hundred thousand counter rows per request.

They run without JIT compilation. Their planner estimates (a join on a range computed at run
time, unions of trigger-kept counts) put their cost far past `jit_above_cost`, and at a
million cases PostgreSQL then spent 1.5–2.6 s compiling expressions for a query that runs in
well under that (python -m bench scale, docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

import asyncpg


async def fetch_without_jit(conn: asyncpg.Connection, sql: str, *args: Any) -> list[asyncpg.Record]:
    """conn.fetch of trigger-kept counts, folded first, with JIT off for this statement's
    transaction only."""
    async with conn.transaction():
        await fold_counts(conn)
        await conn.execute("SET LOCAL jit = off")
        return await conn.fetch(sql, *args)


async def fold_counts(conn: asyncpg.Connection) -> None:
    """Add the contributions the triggers left pending into the statistics' counts (migration
    0211): the triggers append rather than update shared counter rows, so that concurrent
    transitions never wait for one another."""
    await conn.execute("SELECT stats_fold()")
