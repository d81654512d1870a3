"""Copies: the contact book's extra CC and the hotline of a country whose policy is "both"
receive every notice of the route, as Cc of the same message, over a real SMTP server. A
refused or bounced copy never moves the notice away from its main recipient."""

from __future__ import annotations

from typing import Any

import asyncpg

from service.domain.rdap_contacts import extract_contacts
from service.domain.routing import BookRule, Hotline, RoutingFacts
from service.domain.routing_policy import decide
from service.notify.bounces import apply_bounce, parse_bounce
from service.workers.escalate_stage import EscalateStage
from tests.integration.notify.conftest import LINK, Smtp, add_case, deliver, notice_settings
from tests.integration.notify.test_delivery import parts

HOSTER = "abuse@bergcloud.de"
LEGAL = "legal@bergcloud.de"
HOTLINE = "meldung@hotline-de.org"


def route(*, cc: tuple[str, ...] = (), policy: str = "both", second: str | None = None) -> list:
    """The recipients the resolver stores for a host with one abuse desk, in Germany."""
    entities = [{"handle": "A", "roles": ["abuse"], "vcardArray": ["vcard", _card(HOSTER)]}]
    if second:
        entities.append({"handle": "B", "roles": ["abuse"], "vcardArray": ["vcard", _card(second)]})
    facts = RoutingFacts(
        ips=("203.0.113.9",),
        network=None,
        findings=extract_contacts({"entities": entities}),
        rules=(BookRule(1, "domain:bergcloud.de", cc=cc),) if cc else (),
        hotlines={"DE": Hotline("DE", "eco", HOTLINE, "de", policy)},  # type: ignore[arg-type]
        country="DE",
    )
    decision = decide(facts)
    assert decision.resolved
    return [r.as_json() for r in decision.recipients]


def _card(address: str) -> list[Any]:
    return [["fn", {}, "text", "desk"], ["email", {}, "text", address]]


async def test_contact_book_cc_and_both_hotline_receive_the_same_notice(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    recipients = route(cc=(LEGAL,))
    async with pool.acquire() as conn:
        for n in range(3):
            await add_case(conn, f"https://img.bergcloud.de/{n}.jpg", recipients, country="DE")
    await deliver(pool, settings)

    (mail,) = smtp.sink.messages  # one message, one SMTP transaction for all three parties
    assert mail.rcpt_tos == [HOSTER, LEGAL, HOTLINE]
    assert mail.message["To"] == HOSTER
    assert [a.strip() for a in str(mail.message["Cc"]).split(",")] == [LEGAL, HOTLINE]
    text = parts(mail.message)["text"]
    assert len(LINK.findall(text)) == 1  # the main recipient's acknowledgment link only
    assert all(f"bergcloud[.]de/{n}.jpg" in text for n in range(3))
    async with pool.acquire() as conn:
        notice = await conn.fetchrow("SELECT * FROM notices")
        events = await conn.fetch("SELECT detail FROM case_events WHERE kind = 'notice'")
        health = await conn.fetch("SELECT address, delivered FROM contact_health ORDER BY 1")
    assert (notice["recipient"], notice["cc"], notice["state"]) == (
        HOSTER,
        [LEGAL, HOTLINE],
        "sent",
    )
    assert notice["message_id"] == mail.message["Message-ID"] and notice["cc_failed"] == {}
    assert [e["detail"]["cc"] for e in events] == [[LEGAL, HOTLINE]] * 3
    assert [(h["address"], h["delivered"]) for h in health] == [
        (HOSTER, 1),
        (LEGAL, 1),
        (HOTLINE, 1),
    ]


async def test_direct_policy_keeps_the_hotline_out_of_the_notice(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        await add_case(conn, "https://img.bergcloud.de/1.jpg", route(policy="direct"))
    await deliver(pool, settings)
    (mail,) = smtp.sink.messages
    assert mail.rcpt_tos == [HOSTER] and mail.message["Cc"] is None


async def test_a_refused_copy_leaves_the_notice_with_its_main_recipient(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    smtp.sink.fail(LEGAL, 550)
    second = "noc@bergcloud.de"
    async with pool.acquire() as conn:
        case_id = await add_case(
            conn, "https://img.bergcloud.de/1.jpg", route(cc=(LEGAL,), second=second)
        )
    await deliver(pool, settings)

    (mail,) = smtp.sink.messages
    assert mail.rcpt_tos == [HOSTER, HOTLINE]  # the copy was refused, the others have it
    assert smtp.to(second) == []
    async with pool.acquire() as conn:
        notice = await conn.fetchrow("SELECT * FROM notices")
        failing = await conn.fetch("SELECT address FROM contact_health WHERE failing")
        state = await conn.fetchval("SELECT state FROM cases WHERE id = $1", case_id)
        moved = await conn.fetchval("SELECT count(*) FROM case_events WHERE kind='contact_failed'")
    assert (notice["recipient"], notice["state"]) == (HOSTER, "sent")
    assert list(notice["cc_failed"]) == [LEGAL] and "550" in notice["cc_failed"][LEGAL]
    assert [r["address"] for r in failing] == [LEGAL]
    assert state == "notified" and moved == 0


async def test_a_refused_main_recipient_sends_no_copy_and_moves_on_with_its_copies(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    smtp.sink.fail(HOSTER, 550)
    second = "noc@bergcloud.de"
    async with pool.acquire() as conn:
        await add_case(conn, "https://img.bergcloud.de/1.jpg", route(cc=(LEGAL,), second=second))
    await deliver(pool, settings)

    (mail,) = smtp.sink.messages  # the refused attempt was reset before any copy got it
    assert mail.rcpt_tos == [second, LEGAL, HOTLINE]
    assert mail.message["To"] == second
    async with pool.acquire() as conn:
        states = await conn.fetch("SELECT recipient, cc, state FROM notices ORDER BY id")
    assert [tuple(r) for r in states] == [
        (HOSTER, [LEGAL, HOTLINE], "failed"),
        (second, [LEGAL, HOTLINE], "sent"),
    ]


async def test_a_bounce_from_a_copy_is_recorded_and_moves_nothing(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        await add_case(conn, "https://img.bergcloud.de/1.jpg", route(cc=(LEGAL,), second="x@y.de"))
    await deliver(pool, settings)
    (mail,) = smtp.sink.messages
    bounce = parse_bounce(_dsn(mail.message["Message-ID"], LEGAL))
    async with pool.acquire() as conn:
        first = await apply_bounce(conn, settings, bounce)
        again = await apply_bounce(conn, settings, bounce)
        notice = await conn.fetchrow("SELECT * FROM notices")
    assert first["action"] == "cc_failed" and first["cc_failed"] == [LEGAL]
    assert again["action"] == "ignored"
    assert notice["bounced_at"] is None and list(notice["cc_failed"]) == [LEGAL]
    await deliver(pool, settings)
    assert len(smtp.sink.messages) == 1  # nobody else was written to


async def test_items_gather_only_with_the_same_copies(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        await add_case(conn, "https://img.bergcloud.de/cc.jpg", route(cc=(LEGAL,), policy="direct"))
        await add_case(conn, "https://img.bergcloud.de/plain.jpg", route(policy="direct"))
    await deliver(pool, settings)
    assert len(smtp.to(HOSTER)) == 2
    (copy,) = smtp.to(LEGAL)
    text = parts(copy.message)["text"]
    assert "cc.jpg" in text and "plain.jpg" not in text


def _dsn(message_id: str, recipient: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.bergcloud.de\r\n"
        "To: notices@hotline.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.bergcloud.de\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\n\r\n"
        "--B--\r\n"
    ).encode()


async def test_a_reminder_reaches_everyone_the_notice_did(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        case_id = await add_case(
            conn, "https://img.bergcloud.de/late.jpg", route(cc=(LEGAL,)), country="DE"
        )
    await deliver(pool, settings)
    async with pool.acquire() as conn:
        await EscalateStage(pool, settings).remind(conn, {"id": case_id, "country": "DE"})
    await deliver(pool, settings)

    notice, reminder = smtp.sink.messages
    assert reminder.rcpt_tos == notice.rcpt_tos == [HOSTER, LEGAL, HOTLINE]
    assert "Cc" in reminder.message
