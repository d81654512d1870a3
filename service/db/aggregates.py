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
    """conn.fetch with JIT off for this statement's transaction only."""
    async with conn.transaction():
        await conn.execute("SET LOCAL jit = off")
        return await conn.fetch(sql, *args)
