"""A supervisor withdraws a hash: every open case with it stops (unsent notices cancelled, no
reminders, re-checks end), whoever was notified gets a withdrawal notice, later reports of it
are rejected with the reason. Driven through `takedown withdraw`, the API and the pages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta

import asyncpg

from service.db import oversight_repo
from service.probe.runner import ProbeResult
from service.workers.notify_stage import NotifyStage
from service.workers.outbox_stage import OutboxStage
from service.workers.probe_stage import ProbeStage
from tests.integration.api_client import running_api
from tests.integration.cli_runner import takedown
from tests.integration.notify.conftest import (
    Smtp,
    add_case,
    drain,
    make_due,
    notice_settings,
)
from tests.integration.oversight.pages import analyst, csrf_of, log_in
from tests.integration.withdraw.helpers import case_row, outcomes, plain_text, report

FALSE = "ab" * 32
OTHER = "cd" * 32
REASON = "hash list error #42: a stock photo"


class CountingProber:
    """A prober that only counts: a withdrawn case must never be checked again."""

    def __init__(self) -> None:
        self.checked: list[str] = []

    async def check(self, url: str, expected: Mapping[str, str]) -> ProbeResult:
        self.checked.append(url)
        raise AssertionError(f"{url} was checked after its withdrawal")

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[object]:
        yield self

    def hold(self) -> contextlib.AbstractAsyncContextManager[object]:
        return self._held()

    async def close(self) -> None:
        return None


async def _world(pool: asyncpg.Pool, settings: object) -> dict[str, int]:
    """notified: told about FALSE. batched/kept: FALSE and OTHER waiting in one unsent notice.
    alone: FALSE alone in an unsent notice."""
    async with pool.acquire() as conn:
        notified = await add_case(
            conn, "https://a.example/1.png", [{"address": "abuse@a.example"}], sha256=FALSE
        )
    await drain(pool, OutboxStage(pool, settings))  # type: ignore[arg-type]
    await make_due(pool, "notify")
    await drain(pool, NotifyStage(pool, settings))  # type: ignore[arg-type]
    async with pool.acquire() as conn:
        batched = await add_case(
            conn, "https://b.example/1.png", [{"address": "abuse@b.example"}], sha256=FALSE
        )
        kept = await add_case(
            conn, "https://b.example/2.png", [{"address": "abuse@b.example"}], sha256=OTHER
        )
        alone = await add_case(
            conn, "https://d.example/1.png", [{"address": "abuse@d.example"}], sha256=FALSE
        )
    # Into their batches, not sent yet (the gathering window is long here).
    await drain(pool, OutboxStage(pool, settings))  # type: ignore[arg-type]
    return {"notified": notified, "batched": batched, "kept": kept, "alone": alone}


async def _notice_of(pool: asyncpg.Pool, recipient: str) -> dict[str, object]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT n.id, n.state, n.last_error, array_agg(i.case_id) FILTER (WHERE i.case_id IS NOT NULL)"
            " AS items FROM notices n LEFT JOIN notice_items i ON i.notice_id = n.id"
            " WHERE n.recipient = $1 AND n.kind = 'notice' GROUP BY n.id",
            recipient,
        )
    return dict(row)


async def test_withdrawing_a_hash_stops_every_case_with_it(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port, notice_gather_window=timedelta(hours=1))
    world = await _world(pool, settings)
    assert len(smtp.sink.messages) == 1  # only the first notice left

    result = await takedown(
        "withdraw", "--hash", f"SHA256:{FALSE.upper()}", "--reason", REASON, "--by", "chief",
        db_url=db_url,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "3 case(s) stopped" in result.out and "1 unsent notice(s) cancelled" in result.out

    for name in ("notified", "batched", "alone"):
        case = await case_row(pool, world[name])
        assert case["state"] == "withdrawn", name
        assert (await outcomes(pool, world[name]))[-1] == ("withdrawn", "hash_withdrawn")
    assert (await case_row(pool, world["kept"]))["state"] == "resolved"
    # The lone notice is cancelled; the shared one goes on with the other case only.
    alone, shared = (
        await _notice_of(pool, "abuse@d.example"),
        await _notice_of(pool, "abuse@b.example"),
    )
    assert alone["state"] == "cancelled" and "withdrawn" in str(alone["last_error"])
    assert shared["state"] == "pending" and shared["items"] == [world["kept"]]

    # No reminder or ladder step is due for a withdrawn case; its re-check ends unchecked.
    async with pool.acquire() as conn:
        due = await oversight_repo.sweep_due(conn, await conn.fetchval("SELECT now()"), 100)
        probe_jobs = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = 'probe' AND case_id = $1", world["notified"]
        )
    assert world["notified"] not in {row["id"] for row in due} and probe_jobs == 1
    prober = CountingProber()
    await make_due(pool, "probe")
    await drain(pool, ProbeStage(pool, settings, prober=prober))
    async with pool.acquire() as conn:
        left = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'probe'")
    assert prober.checked == [] and left == 0

    await make_due(pool, "notify")
    await drain(pool, NotifyStage(pool, settings))
    by_recipient = {m.rcpt_tos[0]: m for m in smtp.sink.messages[1:]}
    assert set(by_recipient) == {"abuse@a.example", "abuse@b.example"}
    assert by_recipient["abuse@a.example"].subject.startswith("Withdrawn")
    assert "hxxps://a[.]example/1.png" in plain_text(by_recipient["abuse@a.example"])
    told_b = plain_text(by_recipient["abuse@b.example"])
    assert "b[.]example/2.png" in told_b and "b[.]example/1.png" not in told_b


async def test_later_reports_of_a_withdrawn_hash_are_rejected_with_the_reason(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with running_api(settings, pool) as api:
        refused = await api.client.post(
            "/api/v1/oversight/withdrawals",
            json={"hash": f"sha256:{FALSE}", "reason": REASON},
            headers=api.auth("hotline"),
        )
        bad = await api.client.post(
            "/api/v1/oversight/withdrawals",
            json={"hash": "sha256:1234", "reason": REASON},
            headers=api.auth("supervisor"),
        )
        made = await api.client.post(
            "/api/v1/oversight/withdrawals",
            json={"hash": f"sha256:{FALSE}", "reason": REASON},
            headers=api.auth("supervisor"),
        )
        answer = await api.client.post(
            "/api/v1/reports",
            json={
                "reports": [
                    report("https://e.example/1.png", FALSE),
                    report("https://e.example/2.png", OTHER),
                ]
            },
            headers=api.auth("scanner"),
        )
        listed = await api.client.get("/api/v1/oversight/withdrawals", headers=api.auth("hotline"))
        bad_detail = (await bad.json())["detail"]
        body = await answer.json()
        withdrawals = (await listed.json())["withdrawals"]
    assert refused.status == 403
    assert bad.status == 422 and "64 hex digits" in bad_detail
    assert made.status == 201
    assert answer.status == 202 and (body["created"], body["rejected"]) == (1, 1)
    rejected = body["results"][0]
    assert rejected["status"] == "rejected" and "case_id" not in rejected
    assert rejected["problem"]["detail"] == REASON
    assert rejected["problem"]["hash"] == f"sha256:{FALSE}"
    assert body["results"][1]["status"] == "created"
    assert [(w["digest"], w["created_by"]) for w in withdrawals] == [(FALSE, "hotline:chief")]


async def test_the_withdrawals_page_lists_hashes_and_lets_a_supervisor_withdraw(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    async with pool.acquire() as conn:
        await analyst(conn, "alice")
        await analyst(conn, "boss", "supervisor")
    async with running_api(notice_settings(db_url, smtp.port), pool) as api:
        client = api.client
        await log_in(client, "alice")
        page = await client.get("/oversight/withdrawals")
        html = await page.text()
        assert page.status == 200 and 'id="withdraw-hash"' not in html
        refused = await client.post(
            "/oversight/withdrawals",
            data={"csrf": csrf_of(html), "hash": f"sha256:{FALSE}", "reason": REASON},
            allow_redirects=False,
        )
        client.session.cookie_jar.clear()
        await log_in(client, "boss")
        html = await (await client.get("/oversight/withdrawals")).text()
        wrong = await client.post(
            "/oversight/withdrawals",
            data={"csrf": csrf_of(html), "hash": "md5:zz", "reason": REASON},
            allow_redirects=False,
        )
        done = await client.post(
            "/oversight/withdrawals",
            data={"csrf": csrf_of(html), "hash": f"sha256:{FALSE}", "reason": REASON},
            allow_redirects=False,
        )
        listed = await (await client.get("/oversight/withdrawals")).text()
        wrong_text = await wrong.text()
    assert refused.status == 403
    assert wrong.status == 422 and "is not ALGORITHM:HEX" in wrong_text
    assert done.status == 303
    assert FALSE in listed and REASON in listed and "analyst:boss" in listed
