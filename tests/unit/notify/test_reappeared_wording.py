"""A notice about content that is back after a confirmed removal says so, with the removal
date: per URL, in the intro and subject, in every language, and in the machine parts."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from service.notify.compose import KINDS, NoticeDraft, Sender, build_message
from service.notify.csvpart import parse_items_csv
from service.notify.items import NoticeItem
from service.notify.xarf import reports_in

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
REMOVED = datetime(2024, 4, 20, 8, 30, tzinfo=UTC)
SENDER = Sender("Hotline", "notices@hotline.example", "desk@hotline.example")
# The per-URL sentence and the subject words, per language.
WORDING = {
    "en": ("Removed before: this content was removed on", "back online after removal"),
    "nl": ("Eerder verwijderd: dit materiaal is op", "opnieuw online na verwijdering"),
    "de": ("Bereits entfernt: dieses Material wurde am", "nach Entfernung wieder online"),
    "fr": ("Déjà retiré : ce contenu a été retiré le", "de nouveau en ligne après retrait"),
}
INTRO = {
    "en": "1 of these URL(s) serve content that had been removed before",
    "nl": "1 van deze URL('s) tonen materiaal dat eerder was verwijderd",
    "de": "1 dieser URL(s) stellen Material bereit, das bereits entfernt worden war",
    "fr": "1 de ces URL diffusent un contenu qui avait déjà été retiré",
}


def _message(language: str, kind: str = "notice") -> EmailMessage:
    items = [
        NoticeItem(
            3,
            "https://a.example/back.jpg",
            {"sha256": "ab" * 32},
            "image/jpeg",
            AT,
            AT,
            reappeared=True,
            removed_at=REMOVED,
        ),
        NoticeItem(4, "https://a.example/new.jpg", {"sha256": "cd" * 32}, "image/jpeg", AT, AT),
    ]
    draft = NoticeDraft(9, kind, language, "abuse@h.example", "<n.1@hotline.example>", "NL",
                        items, AT, "http://127.0.0.1:8080/ack/T", AT)  # fmt: skip
    parsed = message_from_bytes(build_message(draft, SENDER).as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize("language", sorted(WORDING))
def test_every_language_says_the_content_was_removed_before_with_the_date(language: str) -> None:
    sentence, subject_words = WORDING[language]
    message = _message(language)
    assert subject_words in str(message["Subject"])
    for subtype in ("plain", "html"):
        body = _body(message, subtype)
        assert body.count(sentence) == 1  # the reappeared URL only, not the new one
        assert f"{sentence} 2024-04-20T08:30:00Z" in body
        assert INTRO[language] in body


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "withdrawal"])
def test_reminders_and_escalations_keep_the_per_url_sentence(kind: str) -> None:
    message = _message("en", kind)
    assert "back online after removal" in str(message["Subject"])
    assert "was removed on 2024-04-20T08:30:00Z" in _body(message, "plain")


def test_machine_parts_mark_the_reappeared_item() -> None:
    message = _message("en")
    leaves = [p for p in message.walk() if not p.is_multipart()]
    parts = {p.get_filename() or "": p.get_content() for p in leaves}
    csv = next(v for k, v in parts.items() if k.endswith(".csv"))
    back, new = reports_in(message)
    assert "takedown:reappeared" in back["tags"]
    assert back["previously_removed_at"] == "2024-04-20T08:30:00Z"
    assert "takedown:reappeared" not in new["tags"] and "previously_removed_at" not in new
    rows = parse_items_csv(csv)
    assert [r["removed_before"] for r in rows] == ["2024-04-20T08:30:00Z", ""]


def test_a_notice_without_reappeared_content_says_nothing_of_it() -> None:
    items = [NoticeItem(4, "https://a.example/n.jpg", {"md5": "cd" * 16}, "image/png", AT, AT)]
    draft = NoticeDraft(9, "notice", "en", "abuse@h.example", "<n.2@hotline.example>", None,
                        items, AT, "http://127.0.0.1:8080/ack/T", AT)  # fmt: skip
    raw = build_message(draft, SENDER).as_bytes()
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert (
        "removal" not in str(message["Subject"])
        and "removed before" not in _body(message, "plain").lower()
    )
