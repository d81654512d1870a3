"""The probe stage against a loopback hoster: states, the streak rule, removal clocks,
reappearance, held cases, the schedule."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from tests.conftest import make_settings
from tests.integration.probe.cases import (
    FAST,
    Workers,
    case_row,
    notified_case,
    until_state,
    verdicts,
    wait_for,
)
from tests.integration.probe.conftest import Web
from tests.integration.probe.peers import expected_hashes


async def events(pool: asyncpg.Pool, case_id: int) -> list[dict[str, object]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT kind, from_state, to_state, detail FROM case_events WHERE case_id = $1"
            " ORDER BY id",
            case_id,
        )
    return [dict(r) for r in rows]


async def whys(pool: asyncpg.Pool, case_id: int, verdict: str) -> list[str | None]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT why FROM checks WHERE case_id = $1 AND verdict = $2 ORDER BY id",
            case_id,
            verdict,
        )
    return [r["why"] for r in rows]


async def check_times(pool: asyncpg.Pool, case_id: int, verdict: str) -> list[datetime]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT at FROM checks WHERE case_id = $1 AND verdict = $2 ORDER BY id",
            case_id,
            verdict,
        )
    return [r["at"] for r in rows]


@pytest.mark.parametrize(
    ("behaviour", "why"),
    [
        ("404", "http_gone"),
        ("410", "http_gone"),
        ("451", "http_gone"),
        ("placeholder", "other_content"),  # one URL of the host: not a placeholder yet
        ("soft404", "other_content"),
        ("redirect", "redirected_away"),
        ("other", "other_content"),
    ],
)
async def test_removal_behaviours_end_removed_with_both_clocks_and_the_reason(
    pool: asyncpg.Pool, db_url: str, web_origin: Web, behaviour: str, why: str
) -> None:
    web_origin.origin.scripts["c"] = ["image", behaviour]
    case_id = await notified_case(pool, web_origin.url("c"), expected_hashes())
    async with Workers(pool, make_settings(db_url, **FAST)):
        await until_state(pool, case_id, "removed")
    case = await case_row(pool, case_id)
    gone = await check_times(pool, case_id, "gone")
    assert case["first_gone_at"] == gone[0] and case["removed_at"] >= gone[1]
    assert case["removed_at"] - case["first_gone_at"] >= FAST["removal_min_span"]
    removal = [e for e in await events(pool, case_id) if e["kind"] == "removal"]
    detail = removal[0]["detail"]
    assert detail["notice_clock_s"] == pytest.approx(
        (case["first_gone_at"] - case["first_notice_at"]).total_seconds()
    )
    assert detail["detection_clock_s"] > detail["notice_clock_s"]
    assert detail["why"] == why
    assert set(await whys(pool, case_id, "gone")) == {why}
    assert [e["to_state"] for e in await events(pool, case_id) if e["to_state"]][-2:] == [
        "gone_pending",
        "removed",
    ]


async def test_bytes_a_host_serves_for_several_removed_urls_are_learned_as_its_placeholder(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    for name in ("p1", "p2"):
        web_origin.origin.scripts[name] = ["image", "placeholder"]
    first = await notified_case(pool, web_origin.url("p1"), expected_hashes())
    second = await notified_case(pool, web_origin.url("p2"), expected_hashes())
    async with Workers(pool, make_settings(db_url, **FAST)):
        await until_state(pool, first, "removed")
        await until_state(pool, second, "removed")
        # Both were answered with the same page: a third URL of the host is read at once.
        web_origin.origin.scripts["p3"] = ["placeholder"]
        third = await notified_case(pool, web_origin.url("p3"), expected_hashes())
        await until_state(pool, third, "removed")
    seen = await whys(pool, first, "gone") + await whys(pool, second, "gone")
    assert "placeholder" in seen and set(seen) <= {"placeholder", "other_content"}
    assert set(await whys(pool, third, "gone")) == {"placeholder"}
    removal = [e for e in await events(pool, third) if e["kind"] == "removal"]
    assert removal[0]["detail"]["why"] == "placeholder"


async def test_other_content_of_one_url_each_is_not_a_placeholder(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    web_origin.origin.bodies["q1"] = (b"<p>first page</p>", "text/html")
    web_origin.origin.bodies["q2"] = (b"<p>second page</p>", "text/html")
    cases = [await notified_case(pool, web_origin.url(n), expected_hashes()) for n in ("q1", "q2")]
    async with Workers(pool, make_settings(db_url, **FAST)):
        for case_id in cases:
            await until_state(pool, case_id, "removed")
    assert {w for c in cases for w in await whys(pool, c, "gone")} == {"other_content"}


async def test_a_login_wall_is_recorded_and_never_counts_as_removal(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    web_origin.origin.state["c"] = "login"
    case_id = await notified_case(pool, web_origin.url("c"), expected_hashes())
    async with Workers(pool, make_settings(db_url, **FAST)):

        async def checked_thrice() -> bool:
            return len(await verdicts(pool, case_id)) >= 3

        await wait_for(checked_thrice)
    assert set(await whys(pool, case_id, "inconclusive")) == {"login_wall"}
    assert set(await verdicts(pool, case_id)) == {"inconclusive"}
    assert (await case_row(pool, case_id))["state"] == "notified"


@pytest.mark.parametrize("behaviour", ["image", "reencoded"])
async def test_served_content_stays_notified_and_is_rechecked(
    pool: asyncpg.Pool, db_url: str, web_origin: Web, behaviour: str
) -> None:
    case_id = await notified_case(pool, web_origin.url(behaviour), expected_hashes())
    async with Workers(pool, make_settings(db_url, **FAST)):

        async def three_checks() -> bool:
            return len(await verdicts(pool, case_id)) >= 3

        await wait_for(three_checks)
    assert set(await verdicts(pool, case_id)) == {"present"}
    case = await case_row(pool, case_id)
    assert case["state"] == "notified" and case["last_seen_at"] is not None
    async with pool.acquire() as conn:
        matched = await conn.fetchval("SELECT matched FROM checks WHERE case_id = $1", case_id)
    assert matched == ("sha256" if behaviour == "image" else "pdq")


@pytest.mark.parametrize("behaviour", ["hang", "500", "403", "429", "reset", "cloak-blocked"])
async def test_inconclusive_never_counts_as_gone(
    pool: asyncpg.Pool, db_url: str, web_origin: Web, behaviour: str
) -> None:
    web_origin.origin.state["c"] = "403" if behaviour == "cloak-blocked" else behaviour
    settings = make_settings(db_url, **FAST | {"probe_timeout": 0.3, "probe_cloak_profiles": []})
    case_id = await notified_case(pool, web_origin.url("c"), expected_hashes())
    async with Workers(pool, settings):

        async def checked_thrice() -> bool:
            return len(await verdicts(pool, case_id)) >= 3

        await wait_for(checked_thrice)
    assert set(await verdicts(pool, case_id)) == {"inconclusive"}
    assert (await case_row(pool, case_id))["state"] == "notified"


async def test_corrupt_deflate_body_is_recorded_as_inconclusive(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    case_id = await notified_case(pool, web_origin.url("bad-deflate"), expected_hashes())
    async with Workers(pool, make_settings(db_url, **FAST)):

        async def checked() -> bool:
            return len(await verdicts(pool, case_id)) >= 1

        await wait_for(checked)
    async with pool.acquire() as conn:
        check = await conn.fetchrow(
            "SELECT verdict, reason FROM checks WHERE case_id = $1", case_id
        )
    assert check["verdict"] == "inconclusive" and check["reason"].startswith("decompression")
    assert (await case_row(pool, case_id))["state"] == "notified"


async def test_streak_rule_present_breaks_inconclusive_does_not(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    # gone, present (back to acknowledged), then gone, 500, gone: the second streak confirms.
    web_origin.origin.scripts["c"] = ["404", "image", "404", "500", "404"]
    case_id = await notified_case(
        pool, web_origin.url("c"), expected_hashes(), state="acknowledged"
    )
    async with Workers(pool, make_settings(db_url, **FAST)):
        await until_state(pool, case_id, "removed")
    assert (await verdicts(pool, case_id))[:5] == [
        "gone", "present", "gone", "inconclusive", "gone",
    ]  # fmt: skip
    states = [e["to_state"] for e in await events(pool, case_id) if e["to_state"]]
    assert states == ["gone_pending", "acknowledged", "gone_pending", "removed"]
    case = await case_row(pool, case_id)
    assert case["first_gone_at"] == (await check_times(pool, case_id, "gone"))[1]


async def test_reupload_after_removal_reappears_and_is_noticed_again(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    web_origin.origin.scripts["c"] = ["404", "404", "404", "image"]
    case_id = await notified_case(pool, web_origin.url("c"), expected_hashes())
    async with Workers(pool, make_settings(db_url, **FAST)):
        await until_state(pool, case_id, "reappeared")
    case = await case_row(pool, case_id)
    assert case["reappeared_at"] > case["removed_at"]
    async with pool.acquire() as conn:
        outbox = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'outbox'")
        count = await conn.fetchval(
            "SELECT reappearances FROM hoster_recidivism WHERE hoster = '127.0.0.1'"
        )
    assert (outbox, count) == (1, 1)
    reappearance = [e for e in await events(pool, case_id) if e["kind"] == "reappearance"]
    assert reappearance[0]["detail"]["hoster_reappearances"] == 1


async def test_removed_case_is_watched_then_left_alone(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    case_id = await notified_case(pool, web_origin.url("410"), expected_hashes())
    async with Workers(pool, make_settings(db_url, **FAST)):

        async def job_done() -> bool:
            async with pool.acquire() as conn:
                return not await conn.fetchval(
                    "SELECT count(*) FROM jobs WHERE case_id = $1", case_id
                )

        await wait_for(job_done)
    case = await case_row(pool, case_id)
    watch = [t for t in await check_times(pool, case_id, "gone") if t > case["removed_at"]]
    assert case["state"] == "removed" and len(watch) == 2  # the two watch checks


async def test_held_case_is_not_probed_before_its_interval(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    case_id = await notified_case(pool, web_origin.url("image"), expected_hashes(), state="held")
    async with pool.acquire() as conn:
        await conn.execute("UPDATE cases SET last_checked_at = now() WHERE id = $1", case_id)
    async with Workers(pool, make_settings(db_url, **FAST)):

        async def rescheduled() -> bool:
            async with pool.acquire() as conn:
                return bool(await conn.fetchval(
                    "SELECT run_at > now() + interval '20 hours' FROM jobs WHERE case_id = $1",
                    case_id,
                ))  # fmt: skip

        await wait_for(rescheduled)
    assert web_origin.origin.hits == {} and await verdicts(pool, case_id) == []


async def test_hoster_says_removed_gets_an_immediate_check(
    pool: asyncpg.Pool, db_url: str, web_origin: Web
) -> None:
    from service.db.probe_repo import request_check_now

    case_id = await notified_case(pool, web_origin.url("image"), expected_hashes(), enqueue=False)
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO jobs (kind, case_id, run_at) VALUES ('probe', $1, now() + interval '1 day')",
            case_id,
        )
        await request_check_now(conn, case_id)
    async with Workers(pool, make_settings(db_url, **FAST)):

        async def checked() -> bool:
            return bool(await verdicts(pool, case_id))

        await wait_for(checked)
    assert (await verdicts(pool, case_id))[0] == "present"
    assert datetime.now(UTC) > (await case_row(pool, case_id))["last_checked_at"]
