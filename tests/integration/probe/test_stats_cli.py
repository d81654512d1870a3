"""`takedown stats` over real cases: per-hoster figures that count open cases."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta

import asyncpg

from tests.integration.probe.cases import notified_case
from tests.integration.probe.peers import expected_hashes

H = timedelta(hours=1)


async def remove(pool: asyncpg.Pool, case_id: int, after: timedelta, hoster: str) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE cases SET state = 'removed', first_gone_at = first_notice_at + $2,"
            " removed_at = first_notice_at + $2 + interval '1 hour' WHERE id = $1",
            case_id,
            after,
        )
        await conn.execute(
            "INSERT INTO case_routes (case_id, hoster, no_contact_reason) VALUES ($1, $2, 'x')",
            case_id,
            hoster,
        )


async def test_stats_prints_km_figures_per_hoster(pool: asyncpg.Pool, db_url: str) -> None:
    hashes = expected_hashes()
    fast = await notified_case(pool, "http://a.test/1", hashes, noticed_ago=48 * H, enqueue=False)
    slow = await notified_case(pool, "http://a.test/2", hashes, noticed_ago=48 * H, enqueue=False)
    await notified_case(pool, "http://b.test/3", hashes, noticed_ago=30 * H, enqueue=False)
    await remove(pool, fast, 2 * H, "Fast Hosting")
    await remove(pool, slow, 30 * H, "Fast Hosting")
    env = os.environ | {"TAKEDOWN_DATABASE_URL": db_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from service.cli import main; main()", "stats", "--json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    rows = {r["hoster"]: r for r in json.loads(out)}
    assert rows["Fast Hosting"]["median_s"] == 2 * 3600
    assert rows["Fast Hosting"]["within_24h"] == 0.5
    # b.test has no route: the URL host stands in; its one case is still open after 30 h.
    assert rows["b.test"]["removed"] == 0 and rows["b.test"]["within_72h"] == 0
    assert rows["(all)"]["cases"] == 3 and abs(rows["(all)"]["within_24h"] - 1 / 3) < 1e-9
