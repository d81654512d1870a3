"""A host whose addresses sit in two providers' networks (IPv4 at one, IPv6 at the other),
run through the whole service against the simulated internet: both desks are told, each
address is re-checked (IPv6 included, through the guard), the case is removed only when no
address serves the content, and it is counted once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from service.cli.runtime import Runtime
from service.sim.runner import SimulatedInternet
from service.sim.world import World
from service.workers.registry import available_stages
from tests.faults.pipeline import eventually, fault_settings, submit, world_reports

SCALE = 3600.0  # a simulated hour per real second
ONE_REMOVES = "http://dl.twinmirror.net/f/t1.png"  # IPv4 savannahost (never), IPv6 pixelbarn
BOTH_REMOVE = "http://dl2.twinmirror.net/f/t2.png"  # IPv4 pixelbarn, IPv6 tulpnet


def split_world() -> World:
    data = World.default().model_dump(mode="json")
    for domain in data["domains"]:
        if domain["name"] == "twinmirror.net":
            domain["hosts"]["dl2.twinmirror.net"] = {
                "a": ["23.160.9.78"],
                "aaaa": ["2a0e:1d80::78"],
                "cname": None,
                "txt": [],
            }
    data["urls"] = [u for u in data["urls"] if u["url"] == ONE_REMOVES] + [
        {"url": BOTH_REMOVE, "hoster": "pixelbarn", "content": "c16"}
    ]
    return World.model_validate(data)


async def _case(pool: asyncpg.Pool, url: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT c.id, c.state::text, r.hoster,
                      (SELECT count(*) FROM case_routes WHERE case_id = c.id) AS routes,
                      ARRAY(SELECT a.hoster FROM case_address_routes a
                            WHERE a.case_id = c.id ORDER BY a.position) AS other_hosters,
                      ARRAY(SELECT DISTINCT n.recipient FROM notice_items i
                            JOIN notices n ON n.id = i.notice_id
                            WHERE i.case_id = c.id AND n.state = 'sent') AS told
               FROM cases c JOIN case_routes r ON r.case_id = c.id WHERE c.url = $1""",
            url,
        )
    return dict(row) if row else {}


async def _checks(pool: asyncpg.Pool, case_id: int) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT verdict::text, why, reason FROM checks WHERE case_id = $1 ORDER BY id", case_id
        )
    return [dict(r) for r in rows]


@pytest.mark.timeout(120)
async def test_split_host_is_removed_only_when_no_address_serves_it(
    db_url: str, pool: asyncpg.Pool
) -> None:
    world = split_world()
    async with SimulatedInternet(world, time_scale=SCALE, rate_limits={}) as net:
        settings = fault_settings(
            db_url,
            net.settings_overrides(),
            SCALE,
            public_url="http://127.0.0.1:9",
            removal_streak=2,
            removal_min_span=timedelta(seconds=0.5),
        )
        async with Runtime(settings, available_stages(), http=False):
            await submit(pool, world_reports(world))

            async def both_removed() -> bool:
                return (await _case(pool, BOTH_REMOVE)).get("state") == "removed"

            await eventually(both_removed, 60, "the host both providers removed is removed")
            one = await _case(pool, ONE_REMOVES)

            async def one_address_gone() -> bool:
                return any(
                    "2602:fb12::77 gone" in c["reason"] for c in await _checks(pool, one["id"])
                )

            await eventually(one_address_gone, 30, "pixelbarn's IPv6 address stops serving")
            one = await _case(pool, ONE_REMOVES)
            checks = await _checks(pool, one["id"])
        both = await _case(pool, BOTH_REMOVE)
    # Each provider's desk got its own notice; the case has one statistics route.
    assert sorted(one["told"]) == ["abuse@pixelbarn.com", "abuse@savannahost.co.za"]
    assert sorted(both["told"]) == ["abuse@pixelbarn.com", "abuse@tulpnet.nl"]
    assert (one["routes"], one["other_hosters"]) == (1, ["PixelBarn Hosting, Inc."])
    assert one["hoster"].upper().startswith("SAVANNAH")  # the statistics' hoster, once
    assert [h.upper() for h in both["other_hosters"]] == ["TULPNET-NET"]
    # Savannahost never removes: the IPv4 address still serves it, so it is present.
    latest = checks[-1]
    assert latest["verdict"] == "present"
    assert "102.67.141.50 present" in latest["reason"] and "2602:fb12::77 gone" in latest["reason"]
    assert one["state"] == "notified"
    assert net.web.hits["host:dl.twinmirror.net"] > 0
