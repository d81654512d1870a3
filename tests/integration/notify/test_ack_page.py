"""The acknowledgment page driven over HTTP: reading never changes anything, answers need the
form's CSRF token, tokens that are forged or expired are refused with a clear page."""

from __future__ import annotations

import asyncpg

from service.db.tokens import create_token
from tests.integration.notify.conftest import Hoster
from tests.integration.oversight.pages import analyst, log_in


async def snapshot(pool: asyncpg.Pool) -> tuple[list[asyncpg.Record], int]:
    async with pool.acquire() as conn:
        cases = await conn.fetch("SELECT id, state, acknowledged_at FROM cases ORDER BY id")
        events = await conn.fetchval("SELECT count(*) FROM case_events")
    return cases, events


async def test_page_lists_items_in_the_notice_language_and_get_changes_nothing(
    pool: asyncpg.Pool, hoster: Hoster
) -> None:
    before = await snapshot(pool)
    for _ in range(3):
        status, html = await hoster.page()
        assert status == 200
    assert 'lang="nl"' in html and "Melding beantwoorden" in html
    assert all(f"https://h.example/{n}" in html for n in range(3))
    assert "<script" not in html
    assert await snapshot(pool) == before


async def test_received_acknowledges_every_item(pool: asyncpg.Pool, hoster: Hoster) -> None:
    assert await hoster.answer("received") == 200
    cases, _ = await snapshot(pool)
    assert {c["state"] for c in cases} == {"acknowledged"}
    assert all(c["acknowledged_at"] for c in cases)
    async with pool.acquire() as conn:
        acks = await conn.fetchval("SELECT acknowledged FROM contact_health")
    assert acks == 1


async def test_removed_for_one_item_schedules_an_immediate_recheck(
    pool: asyncpg.Pool, hoster: Hoster
) -> None:
    target = hoster.case_ids[1]
    async with pool.acquire() as conn:
        await conn.execute("UPDATE jobs SET run_at = now() + interval '1 day' WHERE kind = 'probe'")
    assert await hoster.answer("removed", scope=str(target)) == 200
    async with pool.acquire() as conn:
        due = await conn.fetch(
            "SELECT case_id FROM jobs WHERE kind = 'probe' AND run_at <= now() + interval '1 s'"
        )
        removed_at = await conn.fetchval("SELECT removed_at FROM cases WHERE id = $1", target)
        events = await conn.fetchval(
            "SELECT count(*) FROM case_events WHERE kind = 'ack_removed' AND case_id = $1", target
        )
    assert [r["case_id"] for r in due] == [target]
    assert removed_at is None and events == 1  # the answer alone never closes the case


async def test_not_ours_and_dispute_wait_in_the_hotline_queue(
    pool: asyncpg.Pool, hoster: Hoster
) -> None:
    first, second, _ = hoster.case_ids
    assert (
        await hoster.answer("not_ours", scope=str(first), note="customer of other.example") == 200
    )
    assert await hoster.answer("dispute", scope=str(second), note="this is a stock photo") == 200
    async with pool.acquire() as conn:
        queue = await conn.fetch("SELECT case_id, answer, note FROM ack_answers ORDER BY id")
        states = await conn.fetch("SELECT DISTINCT state FROM cases")
    assert [(r["case_id"], r["answer"], r["note"]) for r in queue] == [
        (first, "not_ours", "customer of other.example"),
        (second, "dispute", "this is a stock photo"),
    ]
    assert [s["state"] for s in states] == ["notified"]


async def test_post_without_valid_csrf_token_is_refused(pool: asyncpg.Pool, hoster: Hoster) -> None:
    before = await snapshot(pool)
    no_token = await hoster.client.post(hoster.path, data={"answer": "received", "scope": "all"})
    assert no_token.status == 403
    wrong = await hoster.client.post(
        hoster.path, data={"answer": "received", "scope": "all", "csrf_token": "0" * 64}
    )
    assert wrong.status == 403
    cross_site = await hoster.client.post(
        hoster.path,
        data={"answer": "received", "scope": "all"},
        headers={"Origin": "https://attacker.example"},
    )
    assert cross_site.status == 403
    assert await snapshot(pool) == before


async def test_forged_and_expired_tokens_get_a_clear_page(
    pool: asyncpg.Pool, hoster: Hoster
) -> None:
    forged = await hoster.client.get("/ack/" + "A" * 43)
    assert forged.status == 404 and "not valid" in await forged.text()
    garbage = await hoster.client.get("/ack/%3Cscript%3E")
    assert garbage.status == 404
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE ack_tokens SET created_at = now() - interval '2 days',"
            " expires_at = now() - interval '1 second'"
        )
    status, html = await hoster.page()
    assert status == 410 and "verlopen" in html
    assert await hoster.answer("received") == 410
    cases, _ = await snapshot(pool)
    assert {c["state"] for c in cases} == {"notified"}


async def test_repeated_answer_is_recorded_once(pool: asyncpg.Pool, hoster: Hoster) -> None:
    assert await hoster.answer("received") == 200
    assert await hoster.answer("received") == 200
    async with pool.acquire() as conn:
        events = await conn.fetchval("SELECT count(*) FROM case_events WHERE kind = 'ack_received'")
    assert events == 3


async def test_requests_per_token_are_rate_limited(hoster: Hoster) -> None:
    statuses = [(await hoster.client.get(hoster.path)).status for _ in range(40)]
    assert statuses[0] == 200 and statuses[-1] == 429


async def test_not_ours_names_who_is_responsible_and_a_dispute_says_why(
    pool: asyncpg.Pool, hoster: Hoster
) -> None:
    _status, html = await hoster.page()
    assert 'name="responsible"' in html and 'value="wrong_match"' in html
    assert "De inhoud is legaal" in html  # the choices speak the notice's language
    first, second, third = hoster.case_ids
    not_ours = await hoster.answer(
        "not_ours", scope=str(first), responsible="Reseller BV, abuse@reseller.example"
    )
    dispute = await hoster.answer(
        "dispute", scope=str(second), dispute_reason="wrong_match", note="a different photo"
    )
    # "who is responsible" belongs to "not ours" only; other answers do not keep it
    received = await hoster.answer("received", scope=str(third), responsible="someone")
    assert (not_ours, dispute, received) == (200, 200, 200)
    async with pool.acquire() as conn:
        answers = await conn.fetch(
            "SELECT case_id, answer, responsible, dispute_reason, note FROM ack_answers ORDER BY id"
        )
        details = await conn.fetch(
            "SELECT case_id, detail FROM case_events WHERE kind LIKE 'ack_%' ORDER BY id"
        )
    assert [tuple(r) for r in answers] == [
        (first, "not_ours", "Reseller BV, abuse@reseller.example", None, ""),
        (second, "dispute", "", "wrong_match", "a different photo"),
        (third, "received", "", None, ""),
    ]
    events = {r["case_id"]: r["detail"] for r in details}
    assert events[first]["responsible"] == "Reseller BV, abuse@reseller.example"
    assert events[second]["dispute_reason"] == "wrong_match"
    assert "responsible" not in events[third]


async def test_unknown_dispute_reason_is_refused(pool: asyncpg.Pool, hoster: Hoster) -> None:
    before = await snapshot(pool)
    assert await hoster.answer("dispute", dispute_reason="because") == 400
    assert await snapshot(pool) == before


async def test_analysts_see_who_is_responsible_on_the_case_page_and_in_the_queue(
    pool: asyncpg.Pool, hoster: Hoster
) -> None:
    first, second, _ = hoster.case_ids
    await hoster.answer("not_ours", scope=str(first), responsible="Reseller BV")
    await hoster.answer("dispute", scope=str(second), dispute_reason="lawful_content")
    async with pool.acquire() as conn:
        await analyst(conn, "alice")
        hotline = (await create_token(conn, "analyst-api", "hotline"))[1]
    await log_in(hoster.client, "alice")
    page = await (await hoster.client.get(f"/oversight/cases/{first}")).text()
    answers = page.split('id="answers"')[1].split("</table>")[0]
    assert "not_ours" in answers and "Reseller BV" in answers
    auth = {"Authorization": f"Bearer {hotline}"}
    queues = {}
    for name in ("not_ours", "disputes"):
        response = await hoster.client.get(f"/api/v1/oversight/queues/{name}", headers=auth)
        queues[name] = {item["id"]: item["why"] for item in (await response.json())["items"]}
    assert queues == {"not_ours": {first: "Reseller BV"}, "disputes": {second: "lawful content"}}
    case = await (await hoster.client.get(f"/api/v1/cases/{first}", headers=auth)).json()
    (event,) = [e for e in case["events"] if e["kind"] == "ack_not_ours"]
    assert event["detail"]["responsible"] == "Reseller BV"
