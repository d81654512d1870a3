"""A hoster's dispute reaches the reporting scanner; the analyst confirms it (the case is
withdrawn and the hoster told) or rejects it (the case goes on). Real SMTP on loopback, the
acknowledgment page and the oversight API over HTTP."""

from __future__ import annotations

import asyncpg

from service.settings import Settings
from service.workers.notify_stage import NotifyStage
from tests.integration.api_client import Api, running_api
from tests.integration.notify.conftest import (
    Hoster,
    Smtp,
    add_case,
    deliver,
    drain,
    notice_settings,
)
from tests.integration.oversight.pages import analyst, csrf_of, log_in
from tests.integration.withdraw.helpers import (
    ack_path,
    attachment_names,
    case_row,
    outcomes,
    plain_text,
)

DESK = "abuse@hoster.example"


async def _disputed(pool: asyncpg.Pool, api: Api, smtp: Smtp, settings: Settings) -> list[int]:
    """Two cases notified in one Dutch notice; the desk disputes the first as a wrong match."""
    async with pool.acquire() as conn:
        ids = [
            await add_case(
                conn, f"https://h.example/{n}.png", [{"address": DESK, "language": "nl"}]
            )
            for n in range(2)
        ]
    await deliver(pool, settings)
    (notice,) = smtp.sink.messages
    hoster = Hoster(api.client, ack_path(notice), ids)
    status = await hoster.answer(
        "dispute", scope=str(ids[0]), note="this is our company logo", dispute_reason="wrong_match"
    )
    assert status == 200
    return ids


async def _action(api: Api, case_id: int, action: str, note: str = "") -> tuple[int, dict]:
    response = await api.client.post(
        f"/api/v1/oversight/cases/{case_id}/actions",
        json={"action": action, "note": note},
        headers=api.auth("hotline"),
    )
    return response.status, await response.json()


async def test_a_dispute_reaches_the_scanner_with_its_reason_only(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with running_api(settings, pool) as api:
        disputed, _other = await _disputed(pool, api, smtp, settings)
    assert await outcomes(pool, disputed) == [("notified", None), ("disputed", "wrong_match")]
    # The desk's free text stays with the hotline.
    async with pool.acquire() as conn:
        leaked = await conn.fetchval(
            "SELECT count(*) FROM scanner_outcomes WHERE reason LIKE '%logo%'"
        )
    assert leaked == 0


async def test_confirming_a_dispute_withdraws_the_case_and_tells_the_hoster(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with running_api(settings, pool) as api:
        disputed, other = await _disputed(pool, api, smtp, settings)
        status, body = await _action(api, disputed, "confirm_dispute", "logo, not abuse")
        assert status == 200, body
        assert body["result"]["cases_withdrawn"] == 1
        assert body["result"]["withdrawal_notices"] == 1
        again, problem = await _action(api, disputed, "confirm_dispute")
        queue = await api.client.get(
            "/api/v1/oversight/queues/disputes", headers=api.auth("hotline")
        )
        assert (await queue.json())["items"] == []
    assert again == 409 and "no open dispute" in problem["detail"]
    case = await case_row(pool, disputed)
    assert case["state"] == "withdrawn" and case["withdrawn_at"] is not None
    assert (await case_row(pool, other))["state"] == "notified"
    assert (await outcomes(pool, disputed))[-1] == ("withdrawn", "dispute_confirmed")

    await drain(pool, NotifyStage(pool, settings))
    withdrawal = smtp.sink.messages[-1]
    assert len(smtp.sink.messages) == 2 and withdrawal.rcpt_tos == [DESK]
    assert withdrawal.subject.startswith("Ingetrokken")  # the language of the notice
    text = plain_text(withdrawal)
    assert "hxxps://h[.]example/0.png" in text and "/1.png" not in text
    assert attachment_names(withdrawal) == []  # no X-ARF report, no item CSV: nothing to act on


async def test_rejecting_a_dispute_keeps_the_case_going(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with running_api(settings, pool) as api:
        disputed, _other = await _disputed(pool, api, smtp, settings)
        status, body = await _action(api, disputed, "reject_dispute", "hash verified twice")
        queue = await api.client.get(
            "/api/v1/oversight/queues/disputes", headers=api.auth("hotline")
        )
        assert (await queue.json())["items"] == []
    assert status == 200 and body["result"]["reviewed"] == 1
    assert (await case_row(pool, disputed))["state"] == "notified"
    assert [o for o, _ in await outcomes(pool, disputed)] == ["notified", "disputed"]
    await drain(pool, NotifyStage(pool, settings))
    assert len(smtp.sink.messages) == 1  # no withdrawal notice
    async with pool.acquire() as conn:
        kinds = await conn.fetch(
            "SELECT kind, actor FROM case_events WHERE case_id = $1 AND kind = 'dispute_rejected'",
            disputed,
        )
    assert [dict(k) for k in kinds] == [{"kind": "dispute_rejected", "actor": "hotline:analyst"}]


async def test_an_analyst_confirms_a_dispute_on_the_case_page(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        await analyst(conn, "alice")
    async with running_api(settings, pool) as api:
        disputed, _other = await _disputed(pool, api, smtp, settings)
        await log_in(api.client, "alice")
        page = await api.client.get(f"/oversight/cases/{disputed}")
        html = await page.text()
        assert 'id="action-confirm_dispute"' in html and 'id="action-reject_dispute"' in html
        done = await api.client.post(
            f"/oversight/cases/{disputed}/actions",
            data={"csrf": csrf_of(html), "action": "confirm_dispute", "note": "a logo"},
            allow_redirects=False,
        )
        timeline = await (await api.client.get(f"/oversight/cases/{disputed}")).text()
    assert done.status == 303
    assert (await case_row(pool, disputed))["state"] == "withdrawn"
    assert "withdrawn" in timeline and "analyst:alice" in timeline
