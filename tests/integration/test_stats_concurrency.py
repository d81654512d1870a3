"""The statistics' counts never make one transaction wait for another: two cases of one hoster
notified in the same minute (one shared counter row before migration 0211) by two open
transactions both go through, and the counts then agree with a recount."""

from __future__ import annotations

import asyncpg

from tests.integration.notify.conftest import add_case

DESK = [{"address": "abuse@one-hoster.example"}]
DIFFERENCE = """
SELECT count(*) FROM ((SELECT * FROM stats_open_bins EXCEPT ALL SELECT * FROM stats_open_bins_recount)
                      UNION ALL
                      (SELECT * FROM stats_open_bins_recount EXCEPT ALL SELECT * FROM stats_open_bins)) d
"""


async def test_concurrent_notices_of_one_hoster_do_not_wait_for_each_other(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        first = await add_case(conn, "https://one-hoster.example/1.png", DESK)
        second = await add_case(conn, "https://one-hoster.example/2.png", DESK)
    stamp = "UPDATE cases SET first_notice_at = date_trunc('minute', now()) WHERE id = $1"
    async with pool.acquire() as a, pool.acquire() as b:
        await b.execute("SET lock_timeout = '3s'")  # a wait would fail here, not hang
        async with a.transaction():
            await a.execute(stamp, first)  # still open …
            await b.execute(stamp, second)  # … and this one goes through all the same
        await b.execute("RESET lock_timeout")
        await a.execute("SELECT stats_fold()")
        assert await a.fetchval(DIFFERENCE) == 0
        open_now = await a.fetchval(
            "SELECT sum(open) FROM stats_open_bins WHERE dimension = 'hoster'"
        )
    assert open_now == 2
