"""Rendering notices: Jinja2 templates (text + HTML) and the MIME message around them.

The human parts name URLs defanged; the X-ARF and CSV parts carry them exactly. URLs never
go into headers. HTML is autoescaped and every template variable must exist (StrictUndefined).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from functools import cache
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
from service.notify.mime import (
    CRLF,
    RawMessage,
    attachment_part,
    multipart,
    plain_part,
    text_part,
)
from service.notify.xarf import (
    Reporter,
    feedback_report,
    report_filename,
    report_json,
    xarf_reports,
)
from service.packaged import NOTICE_KINDS, Templates

KINDS = NOTICE_KINDS


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
    # Copies (Cc) of the same message: they read it for information; the acknowledgment
    # link in it is the main recipient's.
    cc: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sender:
    """The hotline as the notice's author."""

    name: str
    mail_from: str
    reply_to: str


@cache
def environment(where: Templates | None = None) -> jinja2.Environment:
    """The notices' Jinja environment over `where` (default: the packaged templates)."""
    return jinja2.Environment(
        loader=(where or Templates.chain()).loader(),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates are read once per process; no stat() per render (base templates included).
        auto_reload=False,
    )


@cache
def jurisdictions(where: Templates | None = None) -> dict[str, Any]:
    """Legal basis and requested action per hosting country and language (editable YAML)."""
    path = (where or Templates.chain()).file("emails/jurisdictions.yaml")
    loaded: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return loaded


def legal_text(
    country: str | None, language: str, where: Templates | None = None
) -> dict[str, str]:
    table = jurisdictions(where)
    entry = table.get((country or "").upper()) or table["default"]
    texts: dict[str, str] = entry.get(language) or entry.get(DEFAULT_LANGUAGE) or {}
    return texts or table["default"][DEFAULT_LANGUAGE]


def context(draft: NoticeDraft, sender: Sender, where: Templates | None = None) -> dict[str, Any]:
    return {
        "ref": notice_reference(draft.notice_id),
        "kind": draft.kind,
        "count": len(draft.items),
        "reappeared": sum(1 for item in draft.items if item.reappeared),
        "items": [_item_view(item) for item in draft.items],
        "deadline": utc_text(draft.deadline),
        "ack_url": draft.ack_url,
        "hotline_name": sender.name,
        "contact": sender.reply_to,
        "legal": legal_text(draft.country, draft.language, where),
    }


def _item_view(item: NoticeItem) -> dict[str, Any]:
    return {
        "reference": item.reference,
        "url": defang(item.url),
        "hashes": sorted(item.hashes.items()),
        "media_type": item.media_type,
        "detected": utc_text(item.detected_at),
        "last_seen": utc_text(item.last_seen_at) or "-",
        "reappeared": item.reappeared,
        "removed_at": utc_text(item.removed_at) or "-",
    }


@cache
def templates(
    kind: str, language: str, where: Templates | None = None
) -> tuple[jinja2.Template, jinja2.Template]:
    """The (text, HTML) templates of a kind and language, compiled once per process."""
    env = environment(where)
    return (
        env.get_template(f"emails/{language}/{kind}.txt.j2"),
        env.get_template(f"emails/{language}/{kind}.html.j2"),
    )


def render_parts(
    draft: NoticeDraft, sender: Sender, where: Templates | None = None
) -> tuple[str, str]:
    """(text, html) of the notice in its language, from `where` (default: packaged templates)."""
    language = draft.language if draft.language in LANGUAGES else DEFAULT_LANGUAGE
    if draft.kind not in KINDS:
        raise ValueError(f"unknown notice kind {draft.kind!r}")
    text, html = templates(draft.kind, language, where)
    values = context(draft, sender, where)
    return text.render(values), html.render(values)


def build_message(draft: NoticeDraft, sender: Sender, where: Templates | None = None) -> RawMessage:
    """The complete MIME message, shaped as X-ARF v4 sends by mail (an RFC 6522 report with
    `Feedback-Type: xarf`): prose (text+HTML), the feedback-report fields, one X-ARF v4 JSON
    report per URL, and the CSV of the items.

    A withdrawal is prose only: it takes a report back, so it carries no abuse report (X-ARF)
    and no item list a machine would act upon."""
    text, html = render_parts(draft, sender, where)
    if draft.kind == "withdrawal":
        alternatives = [text_part(text, "plain"), text_part(html, "html")]
        prose = multipart("alternative", alternatives, _headers(draft, sender))
        return RawMessage(prose.encode("ascii"))
    ref = notice_reference(draft.notice_id)
    reports = xarf_reports(
        draft.items,
        reporter=Reporter(sender.name, sender.reply_to),
        notice_ref=ref,
        message_id=draft.message_id,
    )
    prose = multipart("alternative", [text_part(text, "plain"), text_part(html, "html")])
    parts = [
        prose,
        plain_part("message/feedback-report", feedback_report()),
        *(
            attachment_part(
                report_json(report),
                f'json; name="{report_filename(item)}"',
                f'attachment; filename="{report_filename(item)}"',
                maintype="application",
            )
            for item, report in zip(draft.items, reports, strict=True)
        ),
        attachment_part(items_csv(draft.items), "csv", f'attachment; filename="{ref}.csv"'),
    ]
    headers = _headers(draft, sender)
    message = multipart("report", parts, headers, params="report-type=feedback-report")
    return RawMessage(message.encode("ascii"))


def _headers(draft: NoticeDraft, sender: Sender) -> list[tuple[str, str]]:
    # Only values we control or have validated go into headers: never a URL.
    # A withdrawal takes reports back: it never says the content is back online.
    reappeared = draft.kind != "withdrawal" and any(item.reappeared for item in draft.items)
    title = subject(
        draft.kind, draft.language, draft.notice_id, len(draft.items), reappeared=reappeared
    )
    return [
        ("From", formataddr((header_safe(sender.name), sender.mail_from), "utf-8")),
        ("Reply-To", sender.reply_to),
        ("To", draft.recipient),
        *([("Cc", f",{CRLF} ".join(draft.cc))] if draft.cc else []),
        ("Subject", _encoded(title)),
        ("Date", format_datetime(draft.created_at)),
        ("Message-ID", draft.message_id),
        ("X-Takedown-Notice-Id", str(draft.notice_id)),
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
    ]


def _encoded(title: str) -> str:
    """A header_safe() title as a Subject value: as is when ASCII (short, no line breaks),
    else RFC 2047 encoded words, folded."""
    if title.isascii():
        return title
    return Header(title, "utf-8", header_name="Subject").encode(linesep=CRLF)
