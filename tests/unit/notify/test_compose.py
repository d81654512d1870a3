"""Rendering: every language and kind renders, HTML is escaped, the material is never named."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import jinja2
import pytest

from service.notify.compose import KINDS, NoticeDraft, Sender, build_message, environment
from service.notify.items import NoticeItem

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SENDER = Sender("Hotline <b>\r\nBcc: x@y", "notices@hotline.example", "desk@hotline.example")


def draft(language: str, kind: str, url: str = "https://a.example/<i>x</i>") -> NoticeDraft:
    items = [NoticeItem(3, url, {"sha256": "ab" * 32}, "image/jpeg", AT, AT)]
    return NoticeDraft(
        9,
        kind,
        language,
        "abuse@h.example",
        "<n.1@hotline.example>",
        "NL",
        items,
        AT,
        "http://127.0.0.1:8080/ack/TOKEN",
        AT,
    )


ASKING = [kind for kind in KINDS if kind != "withdrawal"]  # the kinds that ask for an answer


@pytest.mark.parametrize("language", ["en", "nl", "de", "fr"])
@pytest.mark.parametrize("kind", ASKING)
def test_every_language_and_kind_renders_completely(language: str, kind: str) -> None:
    raw = build_message(draft(language, kind), SENDER).as_bytes()
    message = message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "TT-N000009" in part and "TT-C0000003" in part and "ab" * 32 in part
        assert "http://127.0.0.1:8080/ack/TOKEN" in part and "desk@hotline.example" in part
        assert "2024-05-01T12:00:00Z" in part
    assert "<i>x</i>" not in html and "&lt;i&gt;" in html
    assert message["Message-ID"] == "<n.1@hotline.example>"
    assert message["From"].addresses[0].addr_spec == "notices@hotline.example"
    assert message["To"] == "abuse@h.example" and "Bcc" not in message
    assert "TT-N000009" in message["Subject"]


@pytest.mark.parametrize("language", ["en", "nl", "de", "fr"])
def test_a_withdrawal_names_its_items_and_asks_nothing(language: str) -> None:
    raw = build_message(draft(language, "withdrawal"), SENDER).as_bytes()
    message = message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (text, html):
        assert "TT-N000009" in part and "TT-C0000003" in part and "ab" * 32 in part
        assert "hxxps://a[.]example" in part and "desk@hotline.example" in part
        assert "/ack/" not in part  # nothing to acknowledge
    assert "<i>x</i>" not in html
    assert [p.get_filename() for p in message.walk() if p.get_filename()] == []
    assert message["To"] == "abuse@h.example" and "TT-N000009" in message["Subject"]


def test_a_missing_template_variable_is_an_error() -> None:
    template = environment().from_string("{{ nothing_here }}")
    with pytest.raises(jinja2.UndefinedError):
        template.render()
