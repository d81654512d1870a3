"""Concurrent outbox batches joining the same open notices never deadlock.

Under a burst, several outbox batches place cases at once, and their cases share recipients:
each batch writes into the same open notices (and a host served from several networks puts a
case into two recipients' notices). The rule for anything that writes about a notice's cases:
the notice rows first, in id order, then the cases in id order. A batch that locked its
cases first, or its notices in address order, waited for another that held what it wanted
next (the 10 000-report burst lost outbox jobs to `deadlock detected`).

The open notices exist beforehand with ids in the reverse of their recipients' order, so an
order by address and an order by id disagree, as they do in a running service."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from service.notify.outbox import place_cases
from service.notify.rounds import prepare_round
from service.settings import Settings
from tests.integration.notify.conftest import add_case

DESKS = [f"abuse@net{i}.example" for i in range(6)]
BATCHES = 6  # concurrent outbox batches per round
PER_BATCH = 8  # cases per batch
ROUNDS = 4


def _desk(address: str) -> list[dict[str, object]]:
    return [{"address": address}]


async def _case(conn: asyncpg.Connection, rng: random.Random, n: int) -> int:
    """A resolved case whose host is served from two networks with different desks."""
    first, other = rng.sample(DESKS, 2)
    case_id = await add_case(conn, f"http://h{n}.example/{n}.png", _desk(first))
    await conn.execute(
        "INSERT INTO case_address_routes (case_id, position, ip_addresses, recipients)"
        " VALUES ($1, 1, '{192.0.2.7}', $2)",
        case_id,
        [{"address": other, "role": "abuse", "source": "rdap", "rank": 0, "confidence": 0.9}],
    )
    return case_id


async def _open_notices_in_reverse(pool: asyncpg.Pool, settings: Settings, tag: int = 0) -> None:
    async with pool.acquire() as conn:
        for n, desk in enumerate(reversed(DESKS)):
            case_id = await add_case(conn, f"http://seed{n}.example/{tag}.png", _desk(desk))
            await place_cases(conn, settings, [case_id])


async def _place(pool: asyncpg.Pool, settings: Settings, case_ids: list[int]) -> None:
    async with pool.acquire() as conn:
        await place_cases(conn, settings, case_ids)


async def _items_per_case(pool: asyncpg.Pool, case_ids: list[int]) -> dict[int, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT case_id, count(*) AS n FROM notice_items WHERE case_id = ANY($1::bigint[])"
            " GROUP BY case_id",
            case_ids,
        )
    return {row["case_id"]: row["n"] for row in rows}


@pytest.mark.timeout(120)
async def test_concurrent_outbox_batches_on_shared_notices_never_deadlock(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    rng = random.Random(18)
    await _open_notices_in_reverse(pool, settings)
    placed: list[int] = []
    for round_ in range(ROUNDS):
        async with pool.acquire() as conn:
            base = round_ * BATCHES * PER_BATCH
            ids = [await _case(conn, rng, base + n) for n in range(BATCHES * PER_BATCH)]
        rng.shuffle(ids)
        batches = [ids[i::BATCHES] for i in range(BATCHES)]
        outcomes = await asyncio.gather(
            *(_place(pool, settings, batch) for batch in batches), return_exceptions=True
        )
        failures = [repr(o) for o in outcomes if isinstance(o, BaseException)]
        assert failures == [], f"round {round_}: {failures}"
        placed += ids
    # every case waits in exactly two notices: its first network's desk and the other's
    assert set((await _items_per_case(pool, placed)).values()) == {2}
    async with pool.acquire() as conn:
        open_per_desk = await conn.fetchval(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM notices"
            " WHERE sealed_at IS NULL GROUP BY recipient) per_desk"
        )
    assert open_per_desk == 1  # the batches joined the open notices, none opened twice


async def _seal(pool: asyncpg.Pool, settings: Settings) -> None:
    async with pool.acquire() as conn:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM notices WHERE sealed_at IS NULL")]
        await prepare_round(conn, settings, ids)


@pytest.mark.timeout(120)
async def test_outbox_batches_and_send_rounds_on_the_same_notices_never_deadlock(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    """A send round locks its notices in id order and seals them while outbox batches join
    them: whichever comes first, the others wait, and every case lands in one notice."""
    rng = random.Random(19)
    placed: list[int] = []
    for round_ in range(ROUNDS):
        await _open_notices_in_reverse(pool, settings, tag=round_)
        async with pool.acquire() as conn:
            base = 1000 + round_ * BATCHES * PER_BATCH
            ids = [await _case(conn, rng, base + n) for n in range(BATCHES * PER_BATCH)]
        batches = [ids[i::BATCHES] for i in range(BATCHES)]
        outcomes = await asyncio.gather(
            *(_place(pool, settings, batch) for batch in batches),
            _seal(pool, settings),
            _seal(pool, settings),
            return_exceptions=True,
        )
        failures = [repr(o) for o in outcomes if isinstance(o, BaseException)]
        assert failures == [], f"round {round_}: {failures}"
        placed += ids
    assert set((await _items_per_case(pool, placed)).values()) == {2}
