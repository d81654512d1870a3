"""A case behind Cloudflare, through the whole service against the simulated internet: with
API credentials the report goes through the abuse-report API (no e-mail to the CDN), the case
counts as notified, the report is read back and, when the API names the origin host, that
host gets its own notice; without credentials the CDN's abuse desk is e-mailed as before."""

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

SCALE = 3600.0
URL = "http://i.orbitfiles.net/v/9k.jpg"


def cdn_world() -> World:
    data = World.default().model_dump(mode="json")
    data["urls"] = [u for u in data["urls"] if u["url"] == URL]
    return World.model_validate(data)


async def _facts(pool: asyncpg.Pool) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT c.state::text AS state, c.first_notice_at,
                      ARRAY(SELECT kind FROM case_events e WHERE e.case_id = c.id ORDER BY id)
                          AS events,
                      (SELECT row_to_json(k) FROM cdn_reports k WHERE k.case_id = c.id) AS report
               FROM cases c WHERE c.url = $1""",
            URL,
        )
    return dict(row) if row else {}


async def _run(
    db_url: str, pool: asyncpg.Pool, *, disclose: bool = False, credentials: bool = True
) -> tuple[dict[str, Any], list[str]]:
    world = cdn_world()
    async with SimulatedInternet(world, time_scale=SCALE, rate_limits={}) as net:
        net.cloudflare.disclose_origin = disclose
        sim = net.settings_overrides()
        if not credentials:
            sim |= {"cloudflare_account_id": None, "cloudflare_api_token": None}
        settings = fault_settings(
            db_url,
            sim,
            SCALE,
            cdn_report_read_after=timedelta(seconds=0.3),
            removal_streak=2,
            removal_min_span=timedelta(seconds=0.5),
        )
        async with Runtime(settings, available_stages(), http=False):
            await submit(pool, world_reports(world))

            async def settled() -> bool:
                facts = await _facts(pool)
                read = not credentials or "cdn_report_read" in (facts.get("events") or [])
                return facts.get("state") == "removed" and read

            await eventually(settled, 60, "the case is reported, read back and removed")
            if disclose:

                async def origin_told() -> bool:
                    return any("abuse@tulpnet.nl" in m.rcpt_tos for m in net.mail.messages)

                await eventually(origin_told, 30, "the origin host's own notice arrives")
        facts = await _facts(pool)
        recipients = sorted({r for m in net.mail.messages for r in m.rcpt_tos})
    return facts, recipients


@pytest.mark.timeout(120)
async def test_with_credentials_the_cdn_api_takes_the_report(
    db_url: str, pool: asyncpg.Pool
) -> None:
    facts, recipients = await _run(db_url, pool)
    assert "abuse@cloudflare.com" not in recipients  # no e-mail to the CDN
    assert "cdn_report" in facts["events"] and facts["first_notice_at"] is not None
    report = facts["report"]
    assert report["channel"] == "cloudflare" and report["report_id"]
    assert report["external_host_notified"] is True and report["read_at"] is not None
    assert report["origin_host"] is None
    # The CDN forwarded it; the origin host (tulpnet, 410 after 30 minutes) removed it.
    assert facts["state"] == "removed"


@pytest.mark.timeout(120)
async def test_an_origin_host_the_api_names_gets_its_own_notice(
    db_url: str, pool: asyncpg.Pool
) -> None:
    facts, recipients = await _run(db_url, pool, disclose=True)
    assert facts["report"]["origin_host"] == {"name": "Tulpnet B.V.", "abuse": "abuse@tulpnet.nl"}
    assert recipients == ["abuse@tulpnet.nl"]


@pytest.mark.timeout(120)
async def test_without_credentials_the_cdn_is_e_mailed(db_url: str, pool: asyncpg.Pool) -> None:
    facts, recipients = await _run(db_url, pool, credentials=False)
    assert recipients == ["abuse@cloudflare.com"]
    assert facts["report"] is None and "cdn_report" not in facts["events"]
    assert facts["state"] == "removed"  # the CDN forwarded the e-mail to the origin
