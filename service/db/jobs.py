"""The work queue every stage shares: enqueue, claim with a lease, finish, retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from service.db.queries import q


@dataclass(frozen=True)
class Job:
    """A claimed unit of work. Only the holder of `claim_id` may finish it."""

    id: int
    kind: str
    case_id: int | None
    ref_id: int | None
    claim_id: int
    attempts: int


async def enqueue_for_case(
    conn: asyncpg.Connection, kind: str, case_id: int, run_at: datetime | None = None
) -> None:
    await enqueue_for_cases(conn, kind, [case_id], run_at)


async def enqueue_for_cases(
    conn: asyncpg.Connection, kind: str, case_ids: list[int], run_at: datetime | None = None
) -> None:
    """`enqueue_for_case` for many cases in one statement."""
    if case_ids:
        await conn.execute(
            q("enqueue_case_jobs"), kind, sorted(set(case_ids)), run_at or await _now(conn)
        )


async def enqueue_for_ref(
    conn: asyncpg.Connection, kind: str, ref_id: int, run_at: datetime | None = None
) -> None:
    await conn.execute(q("enqueue_ref_job"), kind, ref_id, run_at or await _now(conn))


async def enqueue_for_refs(conn: asyncpg.Connection, kind: str, due: dict[int, datetime]) -> None:
    """`enqueue_for_ref` for many rows ({ref id: run at}) in one statement."""
    if due:
        refs = sorted(due)
        await conn.execute(q("enqueue_ref_jobs"), kind, refs, [due[r] for r in refs])


async def ensure_ref_job(conn: asyncpg.Connection, kind: str, ref_id: int) -> None:
    """A periodic job of kind `kind` about `ref_id` exists, on its own schedule."""
    await conn.execute(q("ensure_ref_job"), kind, ref_id)


async def claim(
    conn: asyncpg.Connection, kind: str, limit: int, worker: str, lease: timedelta
) -> list[Job]:
    rows = await conn.fetch(q("claim_jobs"), kind, limit, worker, lease)
    # Positional: claim_jobs returns the columns in Job's field order (no dict per row).
    return [Job(*row) for row in rows]


async def finish(conn: asyncpg.Connection, job: Job) -> bool:
    """Done; False when the lease was lost to another worker meanwhile."""
    return job.id in await finish_many(conn, [job])


async def reschedule(conn: asyncpg.Connection, job: Job, run_at: datetime) -> bool:
    return job.id in await reschedule_many(conn, [(job, run_at)])


async def retry(conn: asyncpg.Connection, job: Job, delay: timedelta, error: str) -> bool:
    return job.id in await retry_many(conn, [(job, delay, error)])


async def finish_many(conn: asyncpg.Connection, jobs: list[Job]) -> set[int]:
    """`finish` for many jobs in one statement; returns the ids whose lease was still held."""
    held = sorted(jobs, key=lambda j: j.id)
    if not held:
        return set()
    rows = await conn.fetch(q("finish_jobs"), [j.id for j in held], [j.claim_id for j in held])
    return {row["id"] for row in rows}


async def reschedule_many(conn: asyncpg.Connection, jobs: list[tuple[Job, datetime]]) -> set[int]:
    """`reschedule` for many (job, run_at) pairs in one statement; the ids still held."""
    held = sorted(jobs, key=lambda pair: pair[0].id)
    if not held:
        return set()
    ids, claims = [j.id for j, _ in held], [j.claim_id for j, _ in held]
    rows = await conn.fetch(q("reschedule_jobs"), ids, claims, [at for _, at in held])
    return {row["id"] for row in rows}


async def retry_many(conn: asyncpg.Connection, jobs: list[tuple[Job, timedelta, str]]) -> set[int]:
    """`retry` for many (job, delay, error) triples in one statement; the ids still held."""
    held = sorted(jobs, key=lambda triple: triple[0].id)
    if not held:
        return set()
    rows = await conn.fetch(
        q("retry_jobs"),
        [j.id for j, _, _ in held],
        [j.claim_id for j, _, _ in held],
        [delay for _, delay, _ in held],
        [error[:2000] for _, _, error in held],
    )
    return {row["id"] for row in rows}


async def heartbeat(conn: asyncpg.Connection, jobs: list[Job], lease: timedelta) -> None:
    if jobs:
        await conn.execute(
            q("heartbeat_jobs"), [j.id for j in jobs], [j.claim_id for j in jobs], lease
        )


async def due_lag(conn: asyncpg.Connection) -> list[tuple[str, float, int]]:
    """Per job kind: how late the oldest due job is (seconds) and how many are due."""
    return [(r["kind"], r["lag"], r["due"]) for r in await conn.fetch(q("ops_due_job_lag"))]


async def _now(conn: asyncpg.Connection) -> datetime:
    value: datetime = await conn.fetchval("SELECT now()")
    return value
