"""Notices reach a real SMTP server: one per recipient, split at the cap, in their language,
with machine-readable parts that parse back exactly and headers no URL can inject into."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import unquote

import asyncpg

from service.notify.csvpart import parse_items_csv
from service.notify.xarf import reports_in
from tests.integration.notify.conftest import Smtp, add_case, deliver, notice_settings


def parts(message: EmailMessage) -> dict[str, str]:
    """text, html, xarf and csv parts of a received notice, decoded."""
    found: dict[str, str] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_filename() or ""
        key = "csv" if name.endswith(".csv") else part.get_content_subtype()
        found.setdefault(key if key != "plain" else "text", part.get_content())
    return found


async def test_one_message_per_recipient_with_all_urls(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    urls: dict[str, list[str]] = {}
    async with pool.acquire() as conn:
        for n in range(30):
            address = f"abuse@hoster{n % 3}.example"
            url = f"https://site{n}.example/img/{n}.png"
            urls.setdefault(address, []).append(url)
            await add_case(conn, url, [{"address": address}])
    await deliver(pool, settings)
    assert len(smtp.sink.messages) == 3
    for address, expected in urls.items():
        (mail,) = smtp.to(address)
        sections = parts(mail.message)
        assert sorted(r["url"] for r in parse_items_csv(sections["csv"])) == sorted(expected)
        assert sorted(d["url"] for d in reports_in(mail.message)) == sorted(expected)
        assert mail.message["From"] == "Example Hotline <notices@hotline.example>"
        assert mail.message["Reply-To"] == "desk@hotline.example"
        assert mail.message["X-Takedown-Notice-Id"].isdigit()
        assert "hxxps://site" in sections["text"] and "https://site" not in sections["text"]
    async with pool.acquire() as conn:
        states = await conn.fetch("SELECT state, first_notice_at FROM cases")
        probes = await conn.fetchval("SELECT count(*) FROM jobs WHERE kind = 'probe'")
        events = await conn.fetch("SELECT detail FROM case_events WHERE kind = 'notice'")
    assert {r["state"] for r in states} == {"notified"}
    assert all(r["first_notice_at"] is not None for r in states)
    assert probes == 30
    message_ids = {m.message["Message-ID"] for m in smtp.sink.messages}
    assert {e["detail"]["message_id"] for e in events} == message_ids


async def test_cap_splits_a_large_batch(pool: asyncpg.Pool, db_url: str, smtp: Smtp) -> None:
    settings = notice_settings(db_url, smtp.port, notice_max_urls=4)
    async with pool.acquire() as conn:
        for n in range(10):
            await add_case(conn, f"https://big.example/{n}", [{"address": "abuse@big.example"}])
    await deliver(pool, settings)
    mails = smtp.to("abuse@big.example")
    sizes = sorted(len(parse_items_csv(parts(m.message)["csv"])) for m in mails)
    assert sizes == [2, 4, 4]
    assert len({m.message["Message-ID"] for m in mails}) == 3
    seen = [r["url"] for m in mails for r in parse_items_csv(parts(m.message)["csv"])]
    assert sorted(seen) == sorted(f"https://big.example/{n}" for n in range(10))


async def test_language_per_recipient_and_country(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        await add_case(conn, "https://a.example/1", [{"address": "a@nl.example", "language": "nl"}])
        await add_case(conn, "https://b.example/1", [{"address": "b@de.example"}], country="DE")
        await add_case(conn, "https://c.example/1", [{"address": "c@fr.example"}], country="FR")
        await add_case(conn, "https://d.example/1", [{"address": "d@us.example"}], country="US")
    await deliver(pool, settings)
    expected = {
        "a@nl.example": ("Verwijderverzoek", "Beste abuse-afdeling"),
        "b@de.example": ("Löschersuchen", "Sehr geehrtes Abuse-Team"),
        "c@fr.example": ("Demande de retrait", "Madame, Monsieur"),
        "d@us.example": ("Removal request", "Dear abuse team"),
    }
    for address, (subject_word, greeting) in expected.items():
        (mail,) = smtp.to(address)
        assert subject_word in mail.subject
        assert greeting in parts(mail.message)["text"]
        assert greeting in parts(mail.message)["html"]


HOSTILE = (
    "http://evil.example/a\r\nBcc: victim@else.example\r\nX-Injected: 1"
    "<script>alert(1)</script>\u202e\"'=cmd|' /C calc'!A0"
)


async def test_hostile_url_cannot_inject_headers_or_markup(
    pool: asyncpg.Pool, db_url: str, smtp: Smtp
) -> None:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        await add_case(conn, HOSTILE, [{"address": "abuse@host.example"}])
    await deliver(pool, settings)
    (mail,) = smtp.sink.messages
    assert mail.rcpt_tos == ["abuse@host.example"]
    headers = "\n".join(f"{k}: {v}" for k, v in mail.message.items())
    assert "Bcc" not in headers and "X-Injected" not in headers and "evil" not in headers
    sections = parts(mail.message)
    assert "<script>" not in sections["html"] and "&lt;script&gt;" in sections["html"]
    assert "\r\nBcc" not in sections["text"]
    assert parse_items_csv(sections["csv"])[0]["url"] == HOSTILE
    assert unquote(reports_in(mail.message)[0]["url"]) == HOSTILE
