"""A URL re-reported after its removal was confirmed and its watch ended reopens the case on
the reappeared path (a new notice saying it was removed before) and is answered `reopened`;
while the watch still runs, a re-report stays a duplicate."""

from __future__ import annotations

import asyncpg

from tests.integration.api_client import running_api
from tests.integration.notify.conftest import Smtp, add_case, deliver, notice_settings
from tests.integration.withdraw.helpers import case_row, outcomes, report

SHA = "ef" * 32


async def _removed(pool: asyncpg.Pool, url: str, sha256: str) -> int:
    """A resolved case waiting for its notice."""
    async with pool.acquire() as conn:
        case_id = await add_case(conn, url, [{"address": "abuse@hoster.example"}], sha256=sha256)
    return case_id


async def _confirm_removal(pool: asyncpg.Pool, case_id: int, *, watched: bool) -> None:
    """The probe stage's removal, 39 days ago; `watched`: a watch check is still scheduled."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE cases SET first_gone_at = now() - interval '40 days',"
            " removed_at = now() - interval '39 days' WHERE id = $1",
            case_id,
        )
        for state in ("gone_pending", "removed"):
            await conn.execute(
                "INSERT INTO case_events (case_id, actor, kind, from_state, to_state)"
                " SELECT id, 'worker:probe', 'transition', state, $2::case_state FROM cases"
                " WHERE id = $1",
                case_id,
                state,
            )
            await conn.execute("UPDATE cases SET state = $2 WHERE id = $1", case_id, state)
        # The probe stage ends a removed case's job after its last watch check.
        await conn.execute("DELETE FROM jobs WHERE kind = 'probe' AND case_id = $1", case_id)
        if watched:
            await conn.execute(
                "INSERT INTO jobs (kind, case_id, run_at) VALUES ('probe', $1, now() + interval '1 day')",
                case_id,
            )


async def test_a_re_report_after_the_watch_reopens_the_case_with_a_new_notice(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    url = "https://h.example/back.png"
    case_id = await _removed(pool, url, SHA)
    await deliver(pool, settings)
    await _confirm_removal(pool, case_id, watched=False)
    async with running_api(settings, pool) as api:
        response = await api.client.post(
            "/api/v1/reports", json={"reports": [report(url, SHA)]}, headers=api.auth("scanner")
        )
        body = await response.json()
    assert response.status == 202
    assert body["results"] == [{"index": 0, "status": "reopened", "case_id": case_id}]
    assert (body["created"], body["duplicate"], body["reopened"]) == (0, 0, 1)
    case = await case_row(pool, case_id)
    assert case["state"] == "reappeared" and case["reappeared_at"] is not None

    await deliver(pool, settings)
    renotice = smtp.sink.messages[-1]
    assert len(smtp.sink.messages) == 2
    assert renotice.subject.endswith("back online after removal")
    assert (await case_row(pool, case_id))["state"] == "notified"
    assert [o for o, _ in await outcomes(pool, case_id)] == [
        "notified", "removed", "reappeared", "notified",
    ]  # fmt: skip
    async with pool.acquire() as conn:
        probe = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = 'probe' AND case_id = $1", case_id
        )
    assert probe == 1  # re-checks start again


async def test_a_re_report_during_the_watch_is_a_duplicate(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    url = "https://h.example/watched.png"
    case_id = await _removed(pool, url, SHA)
    await deliver(pool, settings)
    await _confirm_removal(pool, case_id, watched=True)
    async with running_api(settings, pool) as api:
        response = await api.client.post(
            "/api/v1/reports", json={"reports": [report(url, SHA)]}, headers=api.auth("scanner")
        )
        body = await response.json()
    assert body["results"] == [{"index": 0, "status": "duplicate", "case_id": case_id}]
    assert (await case_row(pool, case_id))["state"] == "removed"
