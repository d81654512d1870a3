"""The world's mail server goes down for a while, then comes back.

The service runs in-process (resolve, outbox, notify). A first wave of reports is notified
normally; then the SMTP server stops, two more waves arrive and their notices are tried and
deferred again and again (temporary failures, backoff capped by a small `retry_max`). When the
server is back, every notice must arrive, per recipient in the order the notices were
created, and none may be marked failed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta

import asyncpg
import pytest

from service.cli.runtime import Runtime
from service.sim.generator import generate_world
from service.sim.runner import SimulatedInternet
from tests.faults.pipeline import (
    eventually,
    fault_settings,
    notice_id_of,
    states,
    submit,
    world_reports,
)

SCALE = 1000.0
WAVES = 3


async def _notices(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT state::text, count(*) FROM notices GROUP BY 1")
    return {row[0]: int(row[1]) for row in rows}


async def _all_sent(pool: asyncpg.Pool) -> bool:
    async with pool.acquire() as conn:
        return bool(
            await conn.fetchval(
                """SELECT NOT EXISTS (SELECT FROM cases
                                      WHERE state IN ('received', 'resolving', 'resolved'))
                      AND NOT EXISTS (SELECT FROM notices WHERE state <> 'sent')"""
            )
        )


async def _retried_while_down(pool: asyncpg.Pool, cases: list[int]) -> bool:
    """Every routed case of the wave waits in an unsent notice, and each recipient's oldest
    unsent notice has been tried at least twice (later ones wait their turn behind it)."""
    async with pool.acquire() as conn:
        return bool(
            await conn.fetchval(
                """WITH waiting AS (
                       SELECT DISTINCT n.recipient, i.case_id FROM notice_items i
                       JOIN notices n ON n.id = i.notice_id
                       WHERE i.case_id = ANY($1::bigint[]) AND n.state <> 'sent'),
                   oldest AS (
                       SELECT DISTINCT ON (recipient) recipient, attempts FROM notices
                       WHERE state <> 'sent' ORDER BY recipient, id)
                   SELECT (SELECT count(DISTINCT case_id) FROM waiting) = (
                              SELECT count(*) FROM cases
                              WHERE id = ANY($1::bigint[]) AND state <> 'unresolved')
                      AND NOT EXISTS (SELECT FROM oldest o JOIN waiting w USING (recipient)
                                      WHERE o.attempts < 2)""",
                cases,
            )
        )


@pytest.mark.timeout(110)
async def test_notices_queued_during_a_mail_outage_all_arrive_in_order(
    db_url: str, pool: asyncpg.Pool
) -> None:
    world = generate_world(seed=3, hosters=8, urls=60, time_scale=SCALE)
    reports = world_reports(world)
    waves = [reports[i::WAVES] for i in range(WAVES)]
    async with SimulatedInternet(world, time_scale=SCALE, rate_limits={}) as net:
        settings = fault_settings(
            db_url,
            net.settings_overrides(),
            SCALE,
            retry_base=timedelta(seconds=0.2),
            retry_max=timedelta(seconds=1.5),
        )
        async with Runtime(settings, ["resolve", "outbox", "notify"], http=False):
            await submit(pool, waves[0])
            await eventually(lambda: _all_sent(pool), 30, "the first wave is notified")
            before = len(net.mail.messages)
            await net.smtp.stop()
            for wave in waves[1:]:
                case_ids = await submit(pool, wave)
                await eventually(
                    lambda ids=case_ids: _retried_while_down(pool, ids),  # type: ignore[misc]
                    30,
                    "the wave's notices are deferred and retried",
                )
            during = _counts(await _notices(pool))
            await net.smtp.start()
            await eventually(lambda: _all_sent(pool), 30, "every notice is delivered")
        messages = list(net.mail.messages)
    async with pool.acquire() as conn:
        attempts = await conn.fetchval("SELECT max(attempts) FROM notices")
        notices = int(await conn.fetchval("SELECT count(*) FROM notices"))
    by_state = await states(pool)
    arrivals: dict[str, list[int]] = defaultdict(list)
    for mail in messages:
        seen = arrivals[mail.rcpt_tos[0].lower()]
        if notice_id_of(mail) not in seen:  # a resend of the same notice keeps its place
            seen.append(notice_id_of(mail))
    out_of_order = {r: ids for r, ids in arrivals.items() if ids != sorted(ids)}
    delivered = len({str(m.message["Message-ID"]) for m in messages})
    print(
        f"\nSMTP outage fault: notices {notices} ({before} before the outage, queued during "
        f"{during}), delivered {delivered} (messages {len(messages)}), max attempts {attempts}, "
        f"recipients {len(arrivals)}, out of order {len(out_of_order)}, "
        f"failed {(await _notices(pool)).get('failed', 0)}, case states {dict(by_state)}"
    )
    assert before > 0 and attempts >= 3
    assert delivered == notices and (await _notices(pool)) == {"sent": notices}
    assert out_of_order == {}
    assert any(len(ids) >= 2 for ids in arrivals.values())
    assert by_state.get("notified", 0) + by_state.get("unresolved", 0) == len(reports)


def _counts(notices: dict[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in sorted(Counter(notices).items()))
