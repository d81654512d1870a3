"""The hand-written X-ARF emitter and MIME writer: exact round trips, no header injection."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import yaml

from service.notify.compose import NoticeDraft, Sender, build_message
from service.notify.csvpart import parse_items_csv
from service.notify.items import NoticeItem
from service.notify.mime import header_lines
from service.notify.xarf import parse_xarf, xarf_report

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NASTY = "http://e.example/\r\n--- !!python/object:x\n'\"\\<b>\u202e\x00\x85\u2028\ufeff😀é\x7f"


def _random_text(rnd: random.Random) -> str:
    def char() -> str:
        lo, hi = rnd.choice([(0, 128), (128, 0xD800), (0xE000, 0x110000)])
        return chr(rnd.randrange(lo, hi))

    return "".join(char() for _ in range(rnd.randrange(0, 40)))


def test_xarf_values_of_any_characters_parse_back_exactly_with_safe_load() -> None:
    rnd = random.Random(7)
    values = [
        NASTY,
        "",
        "null",
        "yes",
        "1e5",
        "- x",
        "# y",
        *(_random_text(rnd) for _ in range(500)),
    ]
    for value in values:
        item = NoticeItem(1, value, {"md5": value}, "image/png", AT, None)
        text = xarf_report([item], reported_from="n@h.example", notice_ref="TT-N1", date=AT)
        assert text.isascii()
        (document,) = yaml.safe_load_all(text)
        assert document["Source"] == value and document["Hash-MD5"] == value


def test_xarf_has_one_document_per_item() -> None:
    items = [NoticeItem(n, f"https://x.example/{n}", {}, "image/png", AT, AT) for n in range(3)]
    docs = parse_xarf(xarf_report(items, reported_from="a@b.example", notice_ref="R", date=AT))
    assert [d["Report-ID"] for d in docs] == ["TT-C0000000", "TT-C0000001", "TT-C0000002"]


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
    assert [d["Source"] for d in parse_xarf(found["report.txt"])] == urls
    assert message.get_body(("plain",)).get_content().count("[TT-C") == 3
