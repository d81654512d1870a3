"""Reading returned mail: which message it is about, who failed, how, and whether for good.

Real mail systems write bounces in many shapes. RFC 3464 delivery-status notifications
(DSNs) are read field by field; everything else (Exim, qmail, older Gmail and Yahoo, Lotus
Notes, Japanese filters, …) is read as text: the failed address from the notice's own words
(or Exim's X-Failed-Recipients), the status from an enhanced code (`5.1.1`), an SMTP reply
code (`550`) or, failing both, the words "permanent" / "temporary" / "unknown user".

- The original Message-ID is searched for the way a person would: the returned message or
  headers part first, then every `Message-ID:` line in the decoded text (quoted inline by
  qmail and Exim), the notice's own Message-ID aside.
- `Action: failed` (or an expired queue) is final even with a 4.x.x status: the sender gave
  up and the mail never arrived. `Action: delayed` and "warning message only" notices are not.
- A forwarded mailbox: the DSN's Original-Recipient (or Exim's "ultimately generated from")
  names the address the message was sent to when Final-Recipient is another one.

Pure functions over bytes: nothing here touches the database or the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.errors import MessageError
from email.message import Message

from service.notify.textparts import decoded_text

# Message-IDs as the database can hold them: no whitespace, no control characters (NUL).
_MESSAGE_ID = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,250}>")
_MESSAGE_ID_LINE = re.compile(
    r"(?im)^[ \t>]*message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s\x00-\x1f\x7f]{1,250}>)"
)
_ADDRESS = re.compile(r"[A-Za-z0-9._%+'=/!#$&*?^`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_REPLY_CODE = re.compile(r"(?<![\d.#-])([45])([0-9])([0-9])(?=[ -]|$)", re.MULTILINE)
_GENERATED_FROM = re.compile(r"\(ultimately generated from ([^)\s]+)\)", re.IGNORECASE)
# Where a notice's own text ends and the returned message (quoted inline) begins.
_RETURNED_START = re.compile(
    r"(?im)^(?:-+ ?(?:this is a copy|below this line|original message|the original message"
    r"|undelivered message|returned message|message headers)|.*(?:original message follows"
    r"|copy of the (?:original )?message|the header of the original)|(?:received|return-path"
    r"|message-id|x-received|dkim-signature):)"
)
_WARNING_ONLY = re.compile(
    r"warning message only|will (?:continue|keep) (?:trying|to try)|will be retried"
    r"|has been delayed|still (?:trying|being retried)|delivery delayed",
    re.IGNORECASE,
)
_PERMANENT_WORDS = re.compile(
    r"permanent(?:ly)? (?:error|failure|fatal)|failed permanently|permanent error"
    r"|user unknown|unknown user|no such (?:user|mailbox|recipient)|not listed in"
    r"|does not exist|address rejected|mailbox unavailable|invalid recipient"
    r"|unknown recipient|recipient name is not recognized|invalid (?:final delivery )?userid",
    re.IGNORECASE,
)
_TEMPORARY_WORDS = re.compile(
    r"temporary (?:error|failure|problem)|temporarily|try again later|delayed",
    re.IGNORECASE,
)
_DAEMON_LOCALS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon", "bounce")
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|deliver(?:y|ed)? (?:status|fail|notification|report|problem|has failed)"
    r"|returned mail|failure notice|non.?deliver|could not be delivered|mail delivery"
    r"|not (?:be )?delivered|delivery failure|rejected|warning: could not|mail system error"
    r"|unzustellbar|nicht zustellbar|delayed mail|delivery delayed|message status",
    re.IGNORECASE,
)
_ENVELOPE_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "to")
# What CPython's email package raises on some garbage instead of recording a defect.
PARSER_FAILURES = (MessageError, LookupError, ValueError, TypeError, AttributeError)


@dataclass(frozen=True)
class FailedRecipient:
    """One recipient of the returned message, as the notice reports it."""

    address: str
    action: str = "failed"
    status: str = ""
    diagnostic: str = ""
    original: str | None = None  # the address sent to, when a forward made it another

    @property
    def permanent(self) -> bool:
        """A 5.x.x status: the address itself is refused."""
        return self.status.startswith("5")

    @property
    def final(self) -> bool:
        """The sender gave up: the message will not arrive (whatever the status class)."""
        return self.action in ("failed", "expired")

    @property
    def addresses(self) -> tuple[str, ...]:
        """Every address this failure may be attributed to (final, then original)."""
        return (self.address, self.original) if self.original else (self.address,)


@dataclass
class Bounce:
    """What a delivery notice says: which messages, which recipients, with what status."""

    message_ids: list[str] = field(default_factory=list)
    recipients: list[FailedRecipient] = field(default_factory=list)
    # Where it was delivered (the VERP return path of the notice, for a bounce): the headers
    # a delivery agent records, and To, which a DSN addresses to the envelope sender.
    envelope: list[str] = field(default_factory=list)

    @property
    def final(self) -> list[FailedRecipient]:
        return [r for r in self.recipients if r.final]


def parse_message(raw: bytes) -> Message | None:
    try:
        return message_from_bytes(raw, policy=policy.default)
    except PARSER_FAILURES:
        return None


def is_bounce(message: Message) -> bool:
    """A delivery notice rather than a reply: a DSN, or a daemon's notice of failure."""
    if message.get_content_type() == "multipart/report":
        return (message.get_param("report-type") or "") in ("delivery-status", "")
    if any(p.get_content_type() == "message/delivery-status" for p in message.walk()):
        return True
    if message.get("X-Failed-Recipients"):
        return True
    sender = str(message.get("From", "")).lower()
    failure_subject = bool(_BOUNCE_SUBJECT.search(str(message.get("Subject", ""))))
    daemon = any(local in sender for local in _DAEMON_LOCALS) or "mail delivery" in sender
    # A daemon's address alone is not enough: a hoster's postmaster may answer by hand.
    return ((daemon or _returned_path_null(message)) and failure_subject) or (
        daemon and _returned_path_null(message)
    )


def _returned_path_null(message: Message) -> bool:
    """The envelope sender was null (`MAIL FROM:<>`), as for every delivery notice: the
    delivering agent records it as `Return-Path: <>`."""
    return str(message.get("Return-Path", "-")).strip() == "<>"


def parse_bounce(raw: bytes) -> Bounce:
    """Parse a raw RFC 5322 message; an empty Bounce when nothing in it can be read."""
    message = parse_message(raw)
    if message is None:
        return Bounce()
    try:
        return read_bounce(message, raw)
    except PARSER_FAILURES:
        return Bounce()


def read_bounce(message: Message, raw: bytes) -> Bounce:
    texts = _leaf_texts(message)
    bounce = Bounce(
        message_ids=original_message_ids(message, raw, texts),
        envelope=envelope_addresses(message),
    )
    recipients = _dsn_recipients(message, texts)
    if not recipients:
        recipients = _text_recipients(message, texts)
    bounce.recipients = recipients
    return bounce


def envelope_addresses(message: Message) -> list[str]:
    """The addresses a mail was delivered to, as its headers record them."""
    values = [str(v) for k, v in message.raw_items() if k.lower() in _ENVELOPE_HEADERS]
    return [a.strip("<>.,;") for value in values for a in _ADDRESS.findall(value)]


# --- Message-IDs -------------------------------------------------------------------------------


def original_message_ids(message: Message, raw: bytes, texts: list[str]) -> list[str]:
    """The original message's Message-ID candidates, the most certain first."""
    own = set(_ids_in(message, "Message-ID"))
    found: list[str] = []
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            found.extend(_returned_ids(part))
    for text in [*texts, raw.decode("latin-1")]:
        found.extend(m.group(1) for m in _MESSAGE_ID_LINE.finditer(text))
    for header in ("In-Reply-To", "References"):
        found.extend(_ids_in(message, header))
    return [i for i in dict.fromkeys(found) if i not in own]


def _returned_ids(part: Message) -> list[str]:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return _ids_in(payload[0], "Message-ID")
    text = decoded_text(part)
    return [m.group(1) for m in _MESSAGE_ID_LINE.finditer(text)]


def _ids_in(message: Message, header: str) -> list[str]:
    """The Message-IDs in a header, read from its raw text (the email package's parser of
    these headers crashes on some garbage, and the pattern needs no parsed form)."""
    name = header.lower()
    raw = " ".join(str(value) for key, value in message.raw_items() if key.lower() == name)
    return _MESSAGE_ID.findall(raw)


# --- DSN fields --------------------------------------------------------------------------------


def _dsn_recipients(message: Message, texts: list[str]) -> list[FailedRecipient]:
    blocks: list[dict[str, str]] = []
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks.extend(_status_blocks(part))
    if not any(_recipient_field(b) for b in blocks):  # a DSN written into a text part
        for text in texts:
            if re.search(r"(?im)^(?:final|original)-recipient:", text):
                blocks.extend(_field_blocks(text))
    per_message = next((b for b in blocks if not _recipient_field(b)), {})
    found = [_from_block(b, per_message, message, texts) for b in blocks if _recipient_field(b)]
    return [r for r in found if r.address]


def _recipient_field(block: dict[str, str]) -> str:
    return block.get("final-recipient") or block.get("original-recipient") or ""


def _from_block(
    block: dict[str, str], per_message: dict[str, str], message: Message, texts: list[str]
) -> FailedRecipient:
    final = _address(block.get("final-recipient", ""))
    original = _address(block.get("original-recipient", ""))
    diagnostic = block.get("diagnostic-code", "").partition(";")[2].strip() or block.get(
        "diagnostic-code", ""
    )
    status = _dsn_status(block.get("status", ""), diagnostic) or _text_status(
        _notice_text(message, texts)
    )
    action = block.get("action", "").strip().lower() or "failed"
    if action == "delayed" and "x-delivery-expired" in block | per_message:
        action = "expired"
    return FailedRecipient(
        address=final or original,
        action=action,
        status=status,
        diagnostic=_plain(diagnostic),
        original=original if final and original and original != final else None,
    )


def _plain(text: str) -> str:
    """One line of printable text, at most 500 characters (stored with the notice)."""
    return " ".join("".join(c for c in text if c.isprintable() or c.isspace()).split())[:500]


def _dsn_status(status: str, diagnostic: str) -> str:
    match = _ENHANCED.search(status)
    if match and match.group(1) in "45":
        return match.group(0)
    return _text_status(diagnostic) if diagnostic else ""


def _address(value: str) -> str:
    """`rfc822; <Name@Host>` → `name@host` (the address type prefix and brackets dropped)."""
    value = value.rpartition(";")[2] if ";" in value else value
    value = value.strip().strip("<>").strip()
    return value.lower() if "@" in value and value.isprintable() and len(value) <= 320 else ""


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message and per-recipient field groups of a delivery-status part."""
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parses each group as a Message
        groups = [block for block in payload if isinstance(block, Message)]
        return [{k.lower(): str(v) for k, v in block.items()} for block in groups]
    return _field_blocks(decoded_text(part))


def _field_blocks(text: str) -> list[dict[str, str]]:
    """Groups of `Name: value` lines separated by blank lines (folded lines joined)."""
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text):
        fields: dict[str, str] = {}
        last = ""
        for line in chunk.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += " " + line.strip()
            elif re.match(r"^[A-Za-z][A-Za-z0-9-]*:", line):
                name, _, value = line.partition(":")
                last = name.strip().lower()
                fields.setdefault(last, value.strip())
        if fields:
            blocks.append(fields)
    return blocks


# --- notices in prose --------------------------------------------------------------------------


def _text_recipients(message: Message, texts: list[str]) -> list[FailedRecipient]:
    notice = _notice_text(message, texts)
    address = _failed_address(message, notice)
    if not address:
        return []
    generated = _GENERATED_FROM.search(notice)
    original = _address(generated.group(1)) if generated else None
    warning = bool(_WARNING_ONLY.search(notice))
    return [
        FailedRecipient(
            address=address,
            action="delayed" if warning else "failed",
            status=_text_status(notice),
            diagnostic=_plain(notice),
            original=original if original and original != address else None,
        )
    ]


def _notice_text(message: Message, texts: list[str]) -> str:
    """The notice's own words: its text parts up to where a returned message starts."""
    words = []
    for text in texts:
        match = _RETURNED_START.search(text)
        words.append(text[: match.start()] if match else text)
        if match:
            break
    return "\n".join(words)


def _failed_address(message: Message, notice: str) -> str:
    """The address the notice names as failed: one that starts a line (how Postfix, Exim,
    qmail and Exchange list them) before one inside a sentence ("please contact <support@…>"),
    else Exim's X-Failed-Recipients header. The bounce's own sender and recipient and
    daemon mailboxes are never it."""
    ignore = {_address(a) for a in _header_addresses(message, ("To", "From", "Return-Path"))}
    leading = re.findall(rf"(?m)^[ \t]*<?({_ADDRESS.pattern})", notice)
    for candidate in [*leading, *_ADDRESS.findall(notice)]:
        address = candidate.strip(".'").lower()
        local = address.partition("@")[0]
        if address not in ignore and local not in _DAEMON_LOCALS:
            return address
    return _address(str(message.get("X-Failed-Recipients", "")).split(",")[0])


def _header_addresses(message: Message, names: tuple[str, ...]) -> list[str]:
    values = [str(v) for k, v in message.raw_items() if k in names]
    return [a for value in values for a in _ADDRESS.findall(value)]


def _text_status(text: str) -> str:
    """An enhanced status code, else an SMTP reply code, else the words, else ""."""
    enhanced = (m.group(0) for m in _ENHANCED.finditer(text) if m.group(1) in "45")
    if code := next(enhanced, ""):
        return code
    if reply := _REPLY_CODE.search(text):
        return f"{reply.group(1)}.0.0"
    if _PERMANENT_WORDS.search(text):
        return "5.0.0"
    if _TEMPORARY_WORDS.search(text):
        return "4.0.0"
    return ""


def _leaf_texts(message: Message) -> list[str]:
    """The decoded text of the notice's own parts (not of a returned message inside it)."""
    texts: list[str] = []
    for part in _own_parts(message):
        if (
            part.get_content_maintype() == "text"
            and part.get_content_type() != "text/rfc822-headers"
        ):
            texts.append(decoded_text(part))
    return texts


def _own_parts(message: Message) -> list[Message]:
    if message.get_content_type() in ("message/rfc822",):
        return []
    if not message.is_multipart():
        return [message]
    parts: list[Message] = []
    payload = message.get_payload()
    for sub in payload if isinstance(payload, list) else []:
        if isinstance(sub, Message) and sub.get_content_type() != "message/rfc822":
            parts.extend(_own_parts(sub))
    return parts
