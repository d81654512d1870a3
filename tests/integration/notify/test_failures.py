"""Temporary failures are retried; permanent ones and bounces move items to the next contact;
a crash between SMTP acceptance and commit resends the same Message-ID and nothing else."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from service.db import jobs as job_store
from service.db import notify_repo
from service.db.tokens import create_token
from service.settings import Settings
from service.web.app import create_app
from service.workers.notify_stage import NotifyStage
from service.workers.outbox_stage import OutboxStage
from tests.integration.cli_runner import takedown
from tests.integration.notify.conftest import (
    Smtp,
    add_case,
    deliver,
    drain,
    make_due,
    notice_settings,
)

TWO_CONTACTS = [{"address": "first@hoster.example"}, {"address": "second@hoster.example"}]


async def test_temporary_failure_is_retried_with_the_same_message_id(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    smtp.sink.fail("first@hoster.example", 452)
    async with pool.acquire() as conn:
        case_id = await add_case(conn, "https://x.example/1", TWO_CONTACTS)
    await deliver(pool, settings)
    assert smtp.sink.messages == []
    async with pool.acquire() as conn:
        notice = await conn.fetchrow("SELECT * FROM notices")
        job = await conn.fetchrow("SELECT * FROM jobs WHERE kind = 'notify'")
    assert notice["state"] == "sending" and "452" in notice["last_error"]
    assert job["ref_id"] == notice["id"] and "452" in job["last_error"]
    smtp.sink.clear_failures()
    await make_due(pool, "notify")
    await drain(pool, NotifyStage(pool, settings))
    (mail,) = smtp.to("first@hoster.example")
    assert mail.message["Message-ID"] == notice["message_id"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT state FROM cases WHERE id = $1", case_id) == "notified"


async def test_permanent_failure_moves_items_to_the_next_contact(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    smtp.sink.fail("first@hoster.example", 550)
    async with pool.acquire() as conn:
        await add_case(conn, "https://x.example/1", TWO_CONTACTS)
        await add_case(conn, "https://x.example/2", TWO_CONTACTS)
    await deliver(pool, settings)
    (mail,) = smtp.sink.messages
    assert mail.rcpt_tos == ["second@hoster.example"]
    async with pool.acquire() as conn:
        health = await conn.fetchrow(
            "SELECT * FROM contact_health WHERE address = 'first@hoster.example'"
        )
        failed = await conn.fetchval("SELECT count(*) FROM notices WHERE state = 'failed'")
        await add_case(conn, "https://x.example/3", TWO_CONTACTS)  # later cases skip it
    assert health["failing"] and failed == 1
    await deliver(pool, settings)
    assert [m.rcpt_tos for m in smtp.sink.messages[1:]] == [["second@hoster.example"]]


async def test_notice_to_an_address_no_header_can_carry_fails_instead_of_retrying(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    """Written before escalation targets were checked: such a notice retried forever."""
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        case_id = await add_case(conn, "https://x.example/1", TWO_CONTACTS)
        await conn.execute("DELETE FROM jobs WHERE kind = 'outbox'")
        notice_id, _created = await notify_repo.open_batch(
            conn,
            recipient="abüse@host-a.net",
            kind="notice",
            role="abuse",
            language="en",
            country=None,
            mail_from=settings.mail_from,
        )
        await notify_repo.add_item(conn, notice_id, case_id)
        await job_store.enqueue_for_ref(conn, "notify", notice_id)
    await drain(pool, NotifyStage(pool, settings))
    async with pool.acquire() as conn:
        notice = await conn.fetchrow("SELECT * FROM notices WHERE id = $1", notice_id)
        retrying = await conn.fetchval(
            "SELECT count(*) FROM jobs WHERE kind = 'notify' AND ref_id = $1", notice_id
        )
        failing = await conn.fetchval(
            "SELECT failing FROM contact_health WHERE address = 'abüse@host-a.net'"
        )
    assert notice["state"] == "failed" and "cannot be built" in notice["last_error"]
    assert retrying == 0 and failing
    # its item moved on to the case's own contact, as after a 5xx
    assert [m.rcpt_tos for m in smtp.sink.messages] == [["first@hoster.example"]]


async def test_every_contact_failing_ends_in_the_hotline_queue(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    smtp.sink.fail("*", 550)
    async with pool.acquire() as conn:
        case_id = await add_case(
            conn,
            "https://x.example/1",
            TWO_CONTACTS,
            registrar={"name": "Reg", "abuse": "abuse@registrar.example"},
        )
    await deliver(pool, settings)
    assert [address for address, _code in smtp.sink.rejected] == [
        "first@hoster.example",
        "second@hoster.example",
        "abuse@registrar.example",
    ]
    async with pool.acquire() as conn:
        state = await conn.fetchval("SELECT state FROM cases WHERE id = $1", case_id)
        reason = await conn.fetchval(
            "SELECT detail->>'reason' FROM case_events WHERE kind = 'no_contact'"
        )
    assert state == "unresolved" and reason == "no working contact"


async def test_crash_between_acceptance_and_commit_resends_the_same_message(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        case_id = await add_case(conn, "https://x.example/1", TWO_CONTACTS)
    await drain(pool, OutboxStage(pool, settings))

    class CrashingStage(NotifyStage):
        async def record_sent(self, attempt):  # type: ignore[no-untyped-def]
            raise RuntimeError("worker died after the server said 250")

    await drain(pool, CrashingStage(pool, settings))
    assert len(smtp.sink.messages) == 1
    await make_due(pool, "notify")
    await drain(pool, NotifyStage(pool, settings))
    await make_due(pool, "notify")
    await drain(pool, NotifyStage(pool, settings))
    first, second = smtp.sink.messages
    assert first.message["Message-ID"] == second.message["Message-ID"]
    async with pool.acquire() as conn:
        notices = await conn.fetch("SELECT state FROM notices")
        kinds = await conn.fetch(
            "SELECT kind FROM case_events WHERE case_id = $1 AND kind = 'notice'", case_id
        )
        probes = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'probe'")
        delivered = await conn.fetchval("SELECT delivered FROM contact_health")
    assert [n["state"] for n in notices] == ["sent"]
    assert len(kinds) == 1 and probes == 1 and delivered == 1


def dsn(message_id: str, recipient: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.hoster.example\r\n"
        "To: notices@hotline.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.hoster.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\nSubject: Removal request\r\n\r\n"
        "--B--\r\n"
    ).encode()


async def test_bounce_posted_to_the_api_moves_items_to_the_next_contact(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        await add_case(conn, "https://x.example/1", TWO_CONTACTS)
        _token, secret = await create_token(conn, "mailroom", "hotline")
    await deliver(pool, settings)
    (first,) = smtp.sink.messages
    body = dsn(first.message["Message-ID"], "first@hoster.example")
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "message/rfc822"}
    async with TestClient(TestServer(create_app(settings, pool))) as client:
        counted_before = _bounced(await (await client.get("/metrics")).text())
        answer = await client.post("/api/v1/bounces", data=body, headers=headers)
        assert answer.status == 200
        assert (await answer.json())["moved_to"] == ["second@hoster.example"]
        again = await client.post("/api/v1/bounces", data=body, headers=headers)
        assert (await again.json())["action"] == "ignored"
        anonymous = await client.post("/api/v1/bounces", data=body)
        assert anonymous.status == 401
        # takedown_notices_total{outcome="bounced"}: once per notice, not per DSN received
        assert _bounced(await (await client.get("/metrics")).text()) == counted_before + 1
    await deliver(pool, settings)
    assert [m.rcpt_tos for m in smtp.sink.messages] == [
        ["first@hoster.example"],
        ["second@hoster.example"],
    ]
    async with pool.acquire() as conn:
        health = await conn.fetchrow("SELECT * FROM contact_health WHERE bounced > 0")
    assert health["address"] == "first@hoster.example" and health["failing"]


async def test_a_bounce_too_malformed_to_parse_is_ignored_by_api_and_cli(
    pool: asyncpg.Pool, db_url: str, settings: Settings, tmp_path: Path
) -> None:
    garbled = dsn("<<<>>>", "first@hoster.example")  # crashes CPython's Message-ID parser
    async with pool.acquire() as conn:
        _token, secret = await create_token(conn, "mailroom", "hotline")
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "message/rfc822"}
    async with TestClient(TestServer(create_app(settings, pool))) as client:
        answer = await client.post("/api/v1/bounces", data=garbled, headers=headers)
        assert answer.status == 200
        assert (await answer.json())["action"] == "ignored"
    saved = tmp_path / "garbled.eml"
    saved.write_bytes(garbled)
    result = await takedown("bounces", str(saved), db_url=db_url)
    assert result.code == 0, result.err
    assert '"action": "ignored"' in result.out and "Traceback" not in result.err


def _bounced(exposition: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if (
                sample.name == "takedown_notices_total"
                and sample.labels.get("outcome") == "bounced"
            ):
                return float(sample.value)
    return 0.0
