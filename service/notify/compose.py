"""Rendering notices: Jinja2 templates (text + HTML) and the MIME message around them.

The human parts name URLs defanged; the X-ARF and CSV parts carry them exactly. URLs never
go into headers. HTML is autoescaped and every template variable must exist (StrictUndefined).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from service.domain.notices import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    defang,
    header_safe,
    notice_reference,
    subject,
)
from service.notify.csvpart import items_csv
from service.notify.items import NoticeItem, utc_text
from service.notify.xarf import xarf_report

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
KINDS = ("notice", "reminder", "escalation")
# Quoted-printable keeps the prose (and the acknowledgment link) readable in the raw message.
_QP_UTF8 = Charset("utf-8")
_QP_UTF8.body_encoding = QP
_UTF8: Any = _QP_UTF8  # MIMEText takes a Charset at runtime; its stubs say str only


@dataclass(frozen=True)
class NoticeDraft:
    """Everything a notice says, decided before rendering."""

    notice_id: int
    kind: str
    language: str
    recipient: str
    message_id: str
    country: str | None
    items: list[NoticeItem]
    deadline: datetime
    ack_url: str
    created_at: datetime


@dataclass(frozen=True)
class Sender:
    """The hotline as the notice's author."""

    name: str
    mail_from: str
    reply_to: str


@cache
def environment(folder: Path = TEMPLATES) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def jurisdictions(folder: Path = TEMPLATES) -> dict[str, Any]:
    """Legal basis and requested action per hosting country and language (editable YAML)."""
    loaded: dict[str, Any] = yaml.safe_load((folder / "emails" / "jurisdictions.yaml").read_text())
    return loaded


def legal_text(country: str | None, language: str) -> dict[str, str]:
    table = jurisdictions()
    entry = table.get((country or "").upper()) or table["default"]
    texts: dict[str, str] = entry.get(language) or entry.get(DEFAULT_LANGUAGE) or {}
    return texts or table["default"][DEFAULT_LANGUAGE]


def context(draft: NoticeDraft, sender: Sender) -> dict[str, Any]:
    return {
        "ref": notice_reference(draft.notice_id),
        "kind": draft.kind,
        "count": len(draft.items),
        "items": [_item_view(item) for item in draft.items],
        "deadline": utc_text(draft.deadline),
        "ack_url": draft.ack_url,
        "hotline_name": sender.name,
        "contact": sender.reply_to,
        "legal": legal_text(draft.country, draft.language),
    }


def _item_view(item: NoticeItem) -> dict[str, Any]:
    return {
        "reference": item.reference,
        "url": defang(item.url),
        "hashes": sorted(item.hashes.items()),
        "media_type": item.media_type,
        "detected": utc_text(item.detected_at),
        "last_seen": utc_text(item.last_seen_at) or "-",
    }


def render_parts(draft: NoticeDraft, sender: Sender) -> tuple[str, str]:
    """(text, html) of the notice in its language."""
    language = draft.language if draft.language in LANGUAGES else DEFAULT_LANGUAGE
    if draft.kind not in KINDS:
        raise ValueError(f"unknown notice kind {draft.kind!r}")
    env, values = environment(), context(draft, sender)
    text = env.get_template(f"emails/{language}/{draft.kind}.txt.j2").render(values)
    html = env.get_template(f"emails/{language}/{draft.kind}.html.j2").render(values)
    return text, html


def build_message(draft: NoticeDraft, sender: Sender) -> Message:
    """The complete MIME message: prose (text+HTML), X-ARF report, CSV of the items.

    Built with the classic MIME classes: an order of magnitude cheaper than EmailMessage's
    header registry, which matters at hundreds of notices per second.
    """
    text, html = render_parts(draft, sender)
    ref = notice_reference(draft.notice_id)
    report = xarf_report(
        draft.items, reported_from=sender.mail_from, notice_ref=ref, date=draft.created_at
    )
    prose = MIMEMultipart("alternative")
    prose.attach(MIMEText(text, "plain", _UTF8))
    prose.attach(MIMEText(html, "html", _UTF8))
    message = MIMEMultipart("mixed")
    message.attach(prose)
    message.attach(_attachment(report, "plain", "report.txt", "inline"))
    message.attach(_attachment(items_csv(draft.items), "csv", f"{ref}.csv", "attachment"))
    _headers(message, draft, sender)
    return message


def _attachment(body: str, subtype: str, filename: str, disposition: str) -> MIMEText:
    part = MIMEText(body, subtype, _UTF8)
    part.add_header("Content-Disposition", disposition, filename=filename)
    return part


def _headers(message: Message, draft: NoticeDraft, sender: Sender) -> None:
    # Only values we control or have validated go into headers: never a URL.
    message["From"] = formataddr((header_safe(sender.name), sender.mail_from), _UTF8)
    message["Reply-To"] = sender.reply_to
    message["To"] = draft.recipient
    title = subject(draft.kind, draft.language, draft.notice_id, len(draft.items))
    # A Header object (compat32 API) is folded by the generator; a pre-encoded string
    # gains a leading space when read back.
    message["Subject"] = Header(title, _UTF8)  # type: ignore[assignment]
    message["Date"] = format_datetime(draft.created_at)
    message["Message-ID"] = draft.message_id
    message["X-Takedown-Notice-Id"] = str(draft.notice_id)
    message["X-ARF"] = "YES"
    message["Auto-Submitted"] = "auto-generated"
