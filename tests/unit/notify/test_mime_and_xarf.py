"""The hand-written X-ARF emitter and MIME writer: exact round trips, no header injection."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import unquote

import pytest

from service.notify.compose import NoticeDraft, Sender, build_message
from service.notify.csvpart import parse_items_csv
from service.notify.items import NoticeItem
from service.notify.mime import header_lines
from service.notify.xarf import Reporter, report_json, reports_in, xarf_reports

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NASTY = "http://e.example/\r\n--- !!python/object:x\n'\"\\<b>\u202e\x00\x85\u2028\ufeff😀é\x7f"


def test_xarf_values_of_any_characters_parse_back_exactly() -> None:
    rnd = random.Random(7)
    values = [
        NASTY,
        "null",
        "1e5",
        *("".join(chr(rnd.randrange(0x20, 0x3000)) for _ in range(30)) for _ in range(200)),
    ]
    for value in values:
        item = NoticeItem(
            1, "https://x.example/", {"md5": value}, "image/png", AT, None, classification=value
        )
        (report,) = xarf_reports(
            [item], reporter=Reporter("H", "d@h.example"), notice_ref="TT-N1", message_id="<m@h>"
        )
        text = report_json(report)
        assert text.isascii()
        assert json.loads(text)["hash_values"]["md5"] == value


def test_xarf_has_one_report_per_item() -> None:
    items = [NoticeItem(n, f"https://x.example/{n}", {}, "image/png", AT, AT) for n in range(3)]
    reports = xarf_reports(
        items, reporter=Reporter("H", "a@b.example"), notice_ref="R", message_id="<m@b>"
    )
    assert [r["tags"] for r in reports] == [
        ["takedown:tt-c0000000"],
        ["takedown:tt-c0000001"],
        ["takedown:tt-c0000002"],
    ]


@pytest.mark.parametrize("value", ["a\r\nBcc: x@y", "a\nb", "a\rb", "é", "a\x00"])
def test_a_header_value_with_a_line_break_or_non_ascii_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        header_lines([("To", value)])


def test_folded_header_values_are_allowed() -> None:
    assert header_lines([("Subject", "=?utf-8?q?a?=\r\n =?utf-8?q?b?=")]).count("\r\n") == 2


def test_message_parts_carry_urls_exactly_and_headers_stay_put() -> None:
    urls = [NASTY, 'https://ok.example/a,b;c="d"', "https://x.example/" + "y" * 3000]
    items = [
        NoticeItem(n, url, {"sha256": "ab" * 32}, "image/png", AT, AT) for n, url in enumerate(urls)
    ]
    draft = NoticeDraft(
        5,
        "notice",
        "fr",
        "abuse@h.example",
        "<n.5@h.example>",
        "FR",
        items,
        AT,
        "http://t/ack/x",
        AT,
    )
    raw = build_message(
        draft, Sender("Hotline\r\nBcc: v@x", "n@hotline.example", "d@hotline.example")
    ).as_bytes()
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert "Bcc" not in message and message["To"] == "abuse@h.example"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    found = {
        part.get_filename(): part.get_content() for part in message.walk() if part.get_filename()
    }
    assert [r["url"] for r in parse_items_csv(found["TT-N000005.csv"])] == urls
    assert [unquote(r["url"]) for r in reports_in(message)] == urls
    assert message.get_body(("plain",)).get_content().count("[TT-C") == 3
