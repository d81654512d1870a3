"""RDAP answering 429 and 5xx for a while, DNS timing out: cases wait and retry, none is
concluded unresolvable because a peer was down.

The same world is resolved twice by the resolve stage: once with healthy peers (the genuine
outcome of every case, including the world's real "no contact" cases) and once while every
DNS query times out and RDAP answers 429 (Retry-After: 1) and 503. After the faults are
cleared every case must reach exactly its genuine outcome, and the retries must show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from service.cli.runtime import Runtime
from service.sim.rdap_faults import RdapFault
from service.sim.runner import SimulatedInternet
from service.sim.world import World
from tests.conftest import fresh_database
from tests.faults.pipeline import UNWORKED, eventually, fault_settings, submit_world

RDAP_429 = 40
RDAP_503 = 25


@pytest.fixture
async def baseline_url(template_db: str) -> AsyncIterator[str]:
    """A second fresh database, for the fault-free run."""
    async with fresh_database(template_db) as dsn:
        yield dsn


def _settings(db_url: str, net: SimulatedInternet) -> Any:
    return fault_settings(
        db_url,
        net.settings_overrides(),
        1.0,
        retry_base=timedelta(seconds=0.2),
        retry_max=timedelta(seconds=2),
        rdap_max_wait=1.0,
        # The outage here outlasts the default five patient attempts; what is tested is that
        # a down source never changes the decision, so the service waits for every source.
        resolve_partial_after_attempts=1000,
    )


async def _worked(pool: asyncpg.Pool) -> bool:
    async with pool.acquire() as conn:
        return not await conn.fetchval(
            "SELECT count(*) FROM cases WHERE state = ANY($1::case_state[])", list(UNWORKED)
        )


async def _outcomes(pool: asyncpg.Pool) -> dict[str, tuple[str, ...]]:
    """url → (state, first recipient, registrar, no-contact reason)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT c.url, c.state::text, r.recipients -> 0 ->> 'address' AS first,
                      r.registrar ->> 'name' AS registrar, r.no_contact_reason
               FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id"""
        )
    return {url: (state, first, registrar, reason) for url, state, first, registrar, reason in rows}


async def _deferred_cases(pool: asyncpg.Pool) -> dict[int, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT case_id, count(*) FROM case_events WHERE kind = 'resolution_deferred'"
            " GROUP BY 1"
        )
    return {row[0]: int(row[1]) for row in rows}


async def _resolve_all(pool: asyncpg.Pool, db_url: str, net: SimulatedInternet) -> None:
    async with Runtime(_settings(db_url, net), ["resolve"], http=False):
        await submit_world(pool, net.world)
        await eventually(lambda: _worked(pool), 30, "every case is resolved or unresolved")


@pytest.mark.timeout(110)
async def test_lookup_outages_delay_resolution_but_never_conclude_it(
    db_url: str, pool: asyncpg.Pool, baseline_url: str
) -> None:
    world = World.default()
    async with SimulatedInternet(world, time_scale=0, rate_limits={}) as net:
        async with asyncpg.create_pool(baseline_url, min_size=1, max_size=2) as baseline:
            await _resolve_all(baseline, baseline_url, net)
            genuine = await _outcomes(baseline)
        net.dns.faults.set("*", "timeout")
        too_many = net.rdap.faults.add("429", count=RDAP_429, retry_after=1)
        failing = net.rdap.faults.add("503", count=RDAP_503)
        async with Runtime(_settings(db_url, net), ["resolve"], http=False):
            case_ids = await submit_world(pool, world)
            await eventually(
                lambda: _every_case_deferred(pool, len(case_ids)), 30, "DNS timeouts deferred"
            )
            net.dns.faults.clear()  # DNS is back; RDAP still refuses for a while
            await eventually(
                lambda: _rdap_faults_served(pool, too_many, failing), 30, "RDAP faults answered"
            )
            net.rdap.faults.clear()
            await eventually(lambda: _worked(pool), 40, "every case concludes")
        served = (RDAP_429 - (too_many.remaining or 0), RDAP_503 - (failing.remaining or 0))
    outcomes = await _outcomes(pool)
    deferred = await _deferred_cases(pool)
    wrong = {
        url: (outcomes.get(url), want) for url, want in genuine.items() if outcomes.get(url) != want
    }
    states = [outcome[0] for outcome in outcomes.values()]
    print(
        f"\nRDAP/DNS outage fault: cases {len(case_ids)}, resolved {states.count('resolved')}, "
        f"unresolved {states.count('unresolved')} (genuine: "
        f"{sum(1 for g in genuine.values() if g[0] == 'unresolved')}), "
        f"RDAP 429/503 served {served[0]}/{served[1]}, deferred events "
        f"{sum(deferred.values())} over {len(deferred)} cases (max {max(deferred.values())} "
        f"per case), wrong outcomes {len(wrong)}"
    )
    assert len(outcomes) == len(genuine) == len(world.urls)
    assert wrong == {}, wrong
    assert len(deferred) == len(case_ids) and served[0] > 0 and served[1] > 0


async def _every_case_deferred(pool: asyncpg.Pool, cases: int) -> bool:
    return len(await _deferred_cases(pool)) >= cases


async def _rdap_faults_served(pool: asyncpg.Pool, *rules: RdapFault) -> bool:
    """Every injected RDAP failure was answered (or nothing is left to look up)."""
    return all(rule.remaining == 0 for rule in rules) or await _worked(pool)
