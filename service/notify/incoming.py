"""What an incoming mail is: a bounce, an automatic reply (with a ticket reference when a
ticket system wrote it) or a person's reply; and the text of it that may be kept.

Attachments are never kept: only their media type, size and SHA-256 are read here, and the
bytes go out of scope with the parsed message. Text parts are kept up to a cap, HTML reduced
to text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses

from service.notify.returned import _ids_in, is_bounce
from service.notify.textparts import decoded_text, html_to_text

# RFC 3834 and the vendor headers autoresponders set instead of (or besides) it.
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Apple-Action")
_AUTO_PRECEDENCE = ("auto_reply", "auto-reply")
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:auto(?:matic)?[ -]?(?:reply|response|answer)|out of (?:the )?office|away|"
    r"vacation|abwesenheit|automatische antwort|r[ée]ponse automatique|absence|"
    r"automatisch antwoord|afwezig|autosvar|risposta automatica|\[?auto\]?)\b",
    re.IGNORECASE,
)
# Ticket references as help desks write them into their acknowledgments' subjects.
_TICKET = re.compile(
    r"\[(?:ticket\s*#?|#|rt\s*#?|case\s*#?|req\s*#?|incident\s*#?)\s*([A-Za-z0-9][\w.-]{0,40})\]"
    r"|\[[\w.-]+\s+#(\d{1,20})\]"  # Request Tracker: [rt.example.net #12345]
    r"|\b(?:ticket|case|incident|request|req)\s*(?:id|no\.?|number)?\s*[#:]\s*([A-Za-z0-9][\w.-]{0,40})"
    r"|\b(?:ticket|case)\s+([0-9][\w.-]{2,40})",
    re.IGNORECASE,
)
_TICKET_HEADERS = ("X-OTRS-TicketNumber", "X-RT-Ticket", "X-Zendesk-Ticket-Id", "X-Ticket-ID")
TEXT_CAP = 16 * 1024  # characters of a reply's text kept for analysts (a setting)


@dataclass(frozen=True)
class AutoReply:
    sender: str | None
    in_reply_to: str | None
    ticket: str | None


@dataclass(frozen=True)
class Attachment:
    """What is recorded of an attachment: never its bytes or its name."""

    media_type: str
    size: int
    sha256: str


@dataclass
class Incoming:
    """An incoming mail, classified, with what may be kept of it."""

    kind: str  # "bounce" | "auto_reply" | "reply"
    sender: str | None
    subject: str
    message_id: str | None
    refers_to: list[str]  # In-Reply-To then References
    text: str = ""
    truncated: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    ticket: str | None = None
    fingerprint: str = ""  # SHA-256 of the whole mail: recognises it when taken in again


def clean(text: str, limit: int) -> str:
    """Text as the database keeps it: no NUL (PostgreSQL text cannot hold one), capped."""
    return text.replace("\x00", "")[:limit]


def sender_of(message: Message) -> str | None:
    pairs = getaddresses([str(v) for k, v in message.raw_items() if k.lower() == "from"])
    return next((clean(a.lower(), 320) for _, a in pairs if "@" in a), None)


def auto_reply_of(message: Message) -> AutoReply | None:
    """An automatic reply (RFC 3834 `Auto-Submitted`, vendor headers, autoresponder subjects),
    else None. Bounces are told apart before (`is_bounce`)."""
    if not _is_auto(message):
        return None
    refers = _ids_in(message, "In-Reply-To") or _ids_in(message, "References")[-1:]
    return AutoReply(sender_of(message), refers[0] if refers else None, ticket_of(message))


def _is_auto(message: Message) -> bool:
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    if submitted and not submitted.startswith("no"):
        return True
    if any(message.get(name) for name in _AUTO_HEADERS):
        return True
    if str(message.get("Precedence", "")).strip().lower() in _AUTO_PRECEDENCE:
        return True
    return bool(_AUTO_SUBJECT.search(str(message.get("Subject", ""))))


def ticket_of(message: Message) -> str | None:
    """A help desk's ticket reference, from its header or the subject."""
    for name in _TICKET_HEADERS:
        value = str(message.get(name, "")).strip()
        if re.fullmatch(r"[\w.#-]{1,60}", value):  # an identifier, never free text (events)
            return value
    match = _TICKET.search(str(message.get("Subject", "")))
    if match is None:
        return None
    return clean(next(g for g in match.groups() if g), 60)


def classify(message: Message, *, text_cap: int = TEXT_CAP) -> Incoming:
    """Bounce, auto-reply or a person's reply, with its kept text and attachment facts."""
    refers = _ids_in(message, "In-Reply-To") + _ids_in(message, "References")
    own = _ids_in(message, "Message-ID")
    incoming = Incoming(
        kind="reply",
        sender=sender_of(message),
        subject=clean(" ".join(str(message.get("Subject", "")).split()), 300),
        message_id=own[0] if own else None,
        refers_to=list(dict.fromkeys(refers)),
    )
    if is_bounce(message):
        incoming.kind = "bounce"
        return incoming
    reply = auto_reply_of(message)
    if reply is not None:
        incoming.kind, incoming.ticket = "auto_reply", reply.ticket
    incoming.text, incoming.truncated, incoming.attachments = _contents(message, text_cap)
    return incoming


def _contents(message: Message, cap: int) -> tuple[str, bool, list[Attachment]]:
    """(text kept, whether cut at the cap, attachment facts)."""
    texts: list[str] = []
    attachments: list[Attachment] = []
    plain_seen = False
    for part in message.walk():
        if part.is_multipart():
            continue
        media_type = part.get_content_type()
        if _is_attachment(part):
            attachments.append(_facts(part, media_type))
        elif media_type == "text/plain":
            texts.append(decoded_text(part))
            plain_seen = True
        elif media_type == "text/html" and not plain_seen:
            texts.append(html_to_text(decoded_text(part)))
    text = "\n\n".join(t.strip() for t in texts if t.strip()).replace("\x00", "")
    return text[:cap], len(text) > cap, attachments


def _is_attachment(part: Message) -> bool:
    disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
    if disposition == "attachment":
        return True
    return part.get_content_maintype() not in ("text",) or part.get_content_subtype() not in (
        "plain",
        "html",
    )


def _facts(part: Message, media_type: str) -> Attachment:
    try:
        payload = part.get_payload(decode=True)
    except (LookupError, ValueError, AssertionError):
        payload = None
    data = payload if isinstance(payload, bytes) else b""
    return Attachment(media_type, len(data), hashlib.sha256(data).hexdigest())
