"""Workers killed with SIGKILL again and again while a world's reports go through the pipeline.

Three `takedown worker` processes run resolve, outbox, notify and probe against the
simulated internet; every 1-2 s one of them, at random, is SIGKILLed and started again.
Afterwards one worker finishes the work. No case may be lost or stuck, no job may sit due
and unclaimed, and no notice may be sent twice, except a resend of an in-flight notice under
the same Message-ID (killed between the server's acceptance and the commit).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import IO

import asyncpg
import pytest

from service.sim.generator import generate_world
from service.sim.runner import SimulatedInternet
from tests.faults.pipeline import (
    UNWORKED,
    case_ids_in,
    eventually,
    fault_settings,
    settings_environment,
    states,
    submit_world,
)

SCALE = 1000.0  # simulated seconds per real second, for the world and the service's clock
WORKERS = 3
KILL_FOR = 15.0  # real seconds of the kill storm
STAGES = "resolve,outbox,notify,probe"


class Fleet:
    """`takedown worker` subprocesses that can be SIGKILLed and restarted."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: list[asyncio.subprocess.Process | None] = [None] * WORKERS
        self.kills = 0
        self.starts = [0] * WORKERS
        self._files: list[IO[bytes]] = []

    async def start(self, slot: int) -> None:
        self.starts[slot] += 1
        log = self._log(slot).open("ab")
        self._files.append(log)
        self.procs[slot] = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "service", "worker", "--stages", STAGES),
            *("--concurrency", "4"),
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )

    def _log(self, slot: int) -> Path:
        return self.logs / f"worker-{slot}-{self.starts[slot]}.log"

    async def up(self, slot: int) -> bool:
        """The latest process of the slot has started its stages (it says so on stderr)."""
        return "workers: " in self._log(slot).read_text(errors="replace")

    async def kill_and_restart(self, slot: int) -> None:
        proc = self.procs[slot]
        assert proc is not None
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            self.kills += 1
        await proc.wait()
        await self.start(slot)

    async def storm(self, seconds: float, rng: random.Random) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            await asyncio.sleep(rng.uniform(1.0, 2.0))  # the fault schedule, not a wait
            await self.kill_and_restart(rng.randrange(WORKERS))

    async def stop(self, slot: int) -> int | None:
        """SIGTERM (a graceful drain) and wait; the exit code."""
        proc = self.procs[slot]
        if proc is None or proc.returncode is not None:
            return proc.returncode if proc else None
        # Before its signal handler exists a process just dies of SIGTERM: wait until it runs.
        await eventually(lambda: self.up(slot), 30, f"worker {slot} starts")
        proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), timeout=15)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"worker {slot} did not stop on SIGTERM") from None

    def close(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.returncode is None:
                proc.kill()
        for log in self._files:
            log.close()


def _child_environment(settings_env: dict[str, str]) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    return {**inherited, **settings_env}


async def _settled(pool: asyncpg.Pool) -> bool:
    """Nothing left before a notice: no unworked case, no unsent notice, no pipeline job."""
    async with pool.acquire() as conn:
        return bool(
            await conn.fetchval(
                """SELECT NOT EXISTS (SELECT FROM cases
                                      WHERE state IN ('received', 'resolving', 'resolved'))
                      AND NOT EXISTS (SELECT FROM notices WHERE state IN ('pending', 'sending'))
                      AND NOT EXISTS (SELECT FROM jobs
                                      WHERE kind IN ('resolve', 'outbox', 'notify'))"""
            )
        )


async def _overdue_jobs(pool: asyncpg.Pool) -> int:
    """Jobs of the running stages due for seconds while a worker polls every 50 ms: stuck."""
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE kind = ANY($1::text[])"
                " AND run_at < now() - interval '5 seconds'",
                STAGES.split(","),
            )
        )


async def _notice_kinds(pool: asyncpg.Pool) -> dict[str, str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT message_id, kind::text FROM notices")
        return {row["message_id"]: row["kind"] for row in rows}


async def _reappearances(pool: asyncpg.Pool) -> Counter[int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT case_id FROM case_events WHERE to_state = 'reappeared'::case_state"
        )
    return Counter(row["case_id"] for row in rows)


@pytest.mark.timeout(110)
async def test_sigkilled_workers_lose_no_case_and_double_no_notice(
    db_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    world = generate_world(seed=8, hosters=16, urls=90, time_scale=SCALE)
    async with SimulatedInternet(world, time_scale=SCALE, rate_limits={}) as net:
        settings = fault_settings(db_url, net.settings_overrides(), SCALE, lease=2.0)
        fleet = Fleet(_child_environment(settings_environment(settings)), tmp_path)
        try:
            for slot in range(WORKERS):
                await fleet.start(slot)
            case_ids = await submit_world(pool, world)
            await fleet.storm(KILL_FOR, random.Random(8))
            codes = [await fleet.stop(slot) for slot in range(1, WORKERS)]
            await eventually(lambda: _settled(pool), 40, "one worker finishes the pipeline")
            overdue = await _overdue_jobs(pool)
            codes.append(await fleet.stop(0))
        finally:
            fleet.close()
        messages = list(net.mail.messages)
    kinds = await _notice_kinds(pool)
    reappeared = await _reappearances(pool)
    by_state = await states(pool)

    per_message_id = Counter(str(m.message["Message-ID"]) for m in messages)
    resends = sum(n - 1 for n in per_message_id.values())
    covering: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    for mail in messages:
        message_id = str(mail.message["Message-ID"])
        for case_id in case_ids_in(mail):
            for recipient in mail.rcpt_tos:
                covering[(recipient.lower(), kinds[message_id], case_id)].add(message_id)
    doubled = {k: v for k, v in covering.items() if len(v) > 1 + reappeared[k[2]]}
    print(
        f"\nworker SIGKILL fault: kills {fleet.kills}, cases {len(case_ids)}, "
        f"states {dict(sorted(by_state.items()))}, notices {len(per_message_id)} "
        f"(messages {len(messages)}), duplicates (same Message-ID resends) {resends}, "
        f"distinct-ID doubles {len(doubled)}, overdue jobs {overdue}, exit codes {codes}"
    )
    assert fleet.kills >= 5
    assert sum(by_state.values()) == len(case_ids) == len(set(case_ids)) == len(world.urls)
    assert not any(by_state.get(state) for state in UNWORKED)
    assert by_state.get("notified", 0) + by_state.get("acknowledged", 0) > 0
    assert overdue == 0
    assert doubled == {}
    assert codes == [0] * WORKERS
