"""The resolve stage records a claimed batch set-based: the batch is taken up in one statement,
lookups that finished together are recorded in one transaction (moves, hash-chained events,
routes, outbox jobs, the jobs' deletion), and a lookup parked for a throttled registry does
not hold up the recording of its batch-mates."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg

from service.db import jobs
from service.db.audit import verify_chains
from service.resolve.resolver import Resolver
from service.usecases import resolve as resolution
from service.usecases.resolve import Concluded
from tests.integration.resolve.conftest import Peers
from tests.integration.resolve.test_pacing_stage import ARIN, LACNIC_A, LACNIC_B, _loop
from tests.integration.resolve.test_resolve_stage import _new_case, _state_becomes

ACTOR = "worker:resolve"
RESOLVABLE = [
    ARIN,
    LACNIC_A,
    LACNIC_B,
    ("http://files.tulpnet.nl/b.jpg", "files.tulpnet.nl"),
    ("http://i.baltichost.lv/c.jpg", "i.baltichost.lv"),
]
NXDOMAIN = ("http://missing.pixelbarn.com/a.jpg", "missing.pixelbarn.com")


async def _xmins(conn: asyncpg.Connection, sql: str, ids: list[int]) -> set[str]:
    """The transaction ids that last wrote the rows `sql` selects (its first column: xmin)."""
    return {str(row[0]) for row in await conn.fetch(sql, ids)}


async def test_a_batch_is_taken_up_in_one_statement_and_recorded_in_one_transaction(
    pool: asyncpg.Pool, resolver: Resolver
) -> None:
    case_ids = [await _new_case(pool, *where) for where in [*RESOLVABLE, NXDOMAIN]]
    async with pool.acquire() as conn:
        batch = await jobs.claim(conn, "resolve", 10, "test", timedelta(minutes=1))
    assert len(batch) == len(case_ids)

    started = await resolution.start_resolving(pool, batch, actor=ACTOR)
    concluded = [
        Concluded(job, case.id, await resolver.resolve(case.url))
        for job in batch
        for case in [started[job.id]]
    ]
    finished = await resolution.record_resolutions(pool, concluded, {}, actor=ACTOR)

    assert finished == {job.id for job in batch}
    async with pool.acquire() as conn:
        states = await conn.fetch(
            "SELECT state::text, count(*) FROM cases WHERE id = ANY($1) GROUP BY 1", case_ids
        )
        taken_up = await _xmins(
            conn,
            "SELECT xmin FROM case_events WHERE case_id = ANY($1) AND to_state = 'resolving'",
            case_ids,
        )
        recorded = set()
        for sql in (
            "SELECT xmin FROM cases WHERE id = ANY($1)",
            "SELECT xmin FROM case_routes WHERE case_id = ANY($1)",
            "SELECT xmin FROM case_events WHERE case_id = ANY($1) AND kind = 'resolution'",
            "SELECT xmin FROM jobs WHERE kind = 'outbox' AND case_id = ANY($1)",
        ):
            recorded |= await _xmins(conn, sql, case_ids)
        outbox = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = 'outbox' AND case_id = ANY($1)", case_ids
        )
        left = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'resolve'")
        chains = await verify_chains(conn)
    assert dict(states) == {"resolved": len(RESOLVABLE), "unresolved": 1}
    assert len(taken_up) == 1  # every received → resolving in one statement
    assert len(recorded) == 1  # moves, routes, events and outbox jobs: one transaction
    assert outbox == len(RESOLVABLE) and left == 0
    assert chains.broken == [] and chains.cases == len(case_ids)


async def _one_resolved(pool: asyncpg.Pool, case_ids: list[int]) -> dict[int, str]:
    """The cases' states once at least one of them is resolved (deadline 20 s)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT id, state::text FROM cases WHERE id = ANY($1)", case_ids
            )
        states = {row["id"]: row["state"] for row in rows}
        if "resolved" in states.values():
            return states
        await asyncio.sleep(0.05)  # polling an observable condition, with a deadline
    raise AssertionError(f"none of {case_ids} was resolved")


async def test_a_parked_lookup_does_not_hold_up_the_recording_of_its_batch_mates(
    pool: asyncpg.Pool, peers: Peers, db_url: str
) -> None:
    # One claimed batch of three; LACNIC allows a query every 6 s, waited for in-process:
    # whichever LACNIC lookup comes second parks for its slot.
    lacnic = [await _new_case(pool, *LACNIC_A), await _new_case(pool, *LACNIC_B)]
    other = await _new_case(pool, *ARIN)
    async with _loop(
        pool, peers, db_url, worker_concurrency=1, worker_batch=3,
        rdap_rate_limits={"lacnic": 10.0}, rdap_max_wait=30.0,
    ):  # fmt: skip
        assert await _state_becomes(pool, other, {"resolved"}) == "resolved"
        states = await _one_resolved(pool, lacnic)
        # Recorded while their batch-mate still waits for LACNIC's next slot.
        assert sorted(states.values()) == ["resolved", "resolving"]
        assert peers.rdap.counts["lacnic:ip"] == 1


async def test_batches_in_flight_share_their_recording_transactions(
    pool: asyncpg.Pool, peers: Peers, db_url: str
) -> None:
    # Three claimed batches of two, looked up at once: lookups of any batch finishing while
    # one transaction is written go into the next one, never one transaction per case.
    hosts = [*RESOLVABLE, ("http://www.riohost.com.br/d.jpg", "www.riohost.com.br")]
    case_ids = [await _new_case(pool, *where) for where in hosts]
    async with _loop(pool, peers, db_url, worker_concurrency=2, worker_batch=2):
        for case_id in case_ids:
            assert await _state_becomes(pool, case_id, {"resolved"}) == "resolved"
    async with pool.acquire() as conn:
        recorded = await _xmins(
            conn,
            "SELECT xmin FROM case_events WHERE case_id = ANY($1) AND kind = 'resolution'",
            case_ids,
        )
        chains = await verify_chains(conn)
    assert len(recorded) < len(case_ids)
    assert chains.broken == []
