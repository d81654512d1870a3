"""The X-ARF (v0.2 style) report part: one YAML document per reported URL.

Abuse desks running AbuseIO-like tools parse this part instead of the prose. Values are
exact (not defanged). The documents are written by a small emitter rather than PyYAML's
representer (which cost ~1 ms of the ~3 ms a notice took to render): every value is a
double-quoted YAML scalar in which anything outside printable ASCII, and the quote and the
backslash, is written as an escape, so a hostile URL can neither end its scalar, start a new
line or document, nor smuggle a tag; the part is pure ASCII. Tests parse it back with
`yaml.safe_load_all`.
"""

from __future__ import annotations

import re
from datetime import datetime

import yaml

from service.notify.items import NoticeItem, utc_text

XARF_VERSION = "0.2"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SCHEMA_URL = "http://www.x-arf.org/schema/abuse_illegal-content_0.1.2.json"
# What may stand as written inside a double-quoted scalar: printable ASCII but " and \.
_NEEDS_ESCAPE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
_PLAIN_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def xarf_report(
    items: list[NoticeItem], *, reported_from: str, notice_ref: str, date: datetime
) -> str:
    """The YAML report part (multiple documents separated by ---)."""
    sent = utc_text(date)
    return "---\n".join(_emit(_document(item, reported_from, notice_ref, sent)) for item in items)


def _document(item: NoticeItem, reported_from: str, notice_ref: str, date: str) -> dict[str, str]:
    detected = utc_text(item.detected_at)
    document: dict[str, str] = {
        "Reported-From": reported_from,
        "Category": "illegal",
        "Report-Type": "csam-url",
        "Report-ID": item.reference,
        "Notice-ID": notice_ref,
        "Service": "http",
        "Version": XARF_VERSION,
        "User-Agent": "takedown-tracker",
        "Date": date,
        "Source-Type": "uri",
        "Source": item.url,
        "Media-Type": item.media_type,
        "First-Seen": detected,
        "Last-Seen": utc_text(item.last_seen_at) or detected,
        "Schema-URL": SCHEMA_URL,
        "Attachment": "text/csv",
    }
    for name, value in item.hashes.items():
        document[f"Hash-{name.upper()}"] = value
    if item.reappeared:  # no standard field: an extension, so tools can tell a repeat
        document["Reappeared"] = "true"
        document["Previously-Removed-At"] = utc_text(item.removed_at)
    return document


def _emit(document: dict[str, str]) -> str:
    """One block mapping, a `Key: "value"` line per field."""
    return "".join(f"{_key(key)}: {quoted(value)}\n" for key, value in document.items())


def _key(key: str) -> str:
    return key if _PLAIN_KEY.match(key) else quoted(key)


def quoted(value: str) -> str:
    """`value` as a YAML double-quoted scalar on one line, in ASCII."""
    return '"' + _NEEDS_ESCAPE.sub(_escape, value) + '"'


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def parse_xarf(text: str) -> list[dict[str, str]]:
    """Read the report part back (for tooling and tests)."""
    return [doc for doc in yaml.load_all(text, Loader=_LOADER) if doc]
