"""The X-ARF v4 reports of a notice: one JSON document per URL (category `content`, type `csam`).

Sent as X-ARF v4 documents its mail transport: the notice is a `multipart/report;
report-type=feedback-report` (RFC 6522 / RFC 5965) whose machine-readable part says
`Feedback-Type: xarf`, followed by the reports as base64 `application/json` parts. Values are
exact (not defanged): JSON escapes whatever a hostile URL holds, and base64 keeps the part ASCII.
The fields are those of the official schemas (`xarf-core`, `content-base`, `content-csam`); a
test validates every generated report against them.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import quote, urlsplit

from service.notify.items import NoticeItem, utc_text

XARF_VERSION = "4.2.0"
USER_AGENT = "takedown-tracker/1"
# The v4 vocabulary of the csam type. A scanner's value outside it (or none) is reported as
# "baseline": the case is a match against a list of confirmed material, which is at least
# the internationally agreed baseline; the schema requires a value.
CLASSIFICATIONS = {"baseline": "baseline", "a1": "A1", "a2": "A2", "b1": "B1", "b2": "B2"}
MEDIA_TYPES = ("image", "video", "audio", "text")
_SCHEMA_HASHES = ("sha256", "sha1", "md5")  # PDQ has no field of its own: sent as "pdq"
# content-base's `domain` pattern: lower-case LDH labels and a letter TLD (no IP, no "--").
_DOMAIN = re.compile(r"([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,}")
# RFC 3986 characters a URI may hold as they are (reserved, unreserved, and % of escapes).
_URI_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


@dataclass(frozen=True)
class Reporter:
    """The hotline as reporter and sender of the reports (`contact_info` of the schema)."""

    org: str
    contact: str

    @property
    def domain(self) -> str:
        return self.contact.rpartition("@")[2].lower()

    def as_json(self) -> dict[str, str]:
        return {"org": self.org[:200], "contact": self.contact, "domain": self.domain}


def xarf_reports(
    items: list[NoticeItem], *, reporter: Reporter, notice_ref: str, message_id: str
) -> list[dict[str, Any]]:
    """One report per item, in the items' order."""
    return [_report(item, reporter, notice_ref, message_id) for item in items]


def _report(
    item: NoticeItem, reporter: Reporter, notice_ref: str, message_id: str
) -> dict[str, Any]:
    host = (urlsplit(item.url).hostname or "").rstrip(".")
    report: dict[str, Any] = {
        "xarf_version": XARF_VERSION,
        "report_id": report_id(message_id, item.case_id),
        "timestamp": utc_text(item.detected_at),
        "reporter": reporter.as_json(),
        "sender": reporter.as_json(),
        "source_identifier": host or item.url,
        "category": "content",
        "type": "csam",
        "url": uri_form(item.url),
        "classification": classification(item.classification),
        "detection_method": "hash_match",
        "evidence_source": "automated_scan",
        "confidence": 1.0,
        "content_removed": False,
        "verified_at": utc_text(item.last_seen_at or item.detected_at),
        "verification_method": "automated_crawler",
        "description": f"{notice_ref} {item.reference}: known material served at this URL",
        "tags": [f"takedown:{item.reference.lower()}"],
    }
    if _DOMAIN.fullmatch(host):
        report["domain"] = host
    if (kind := item.media_type.partition("/")[0]) in MEDIA_TYPES:
        report["media_type"] = kind
    if hashes := _hash_values(item.hashes):
        report["hash_values"] = hashes
    if item.reappeared:  # content back after a confirmed removal: said with a tag and a date
        report["tags"].append("takedown:reappeared")
        report["previously_removed_at"] = utc_text(item.removed_at)
    return report


def uri_form(url: str) -> str:
    """The URL as a valid URI (the schema's `format: uri`): characters a URI cannot hold
    (spaces, controls, non-ASCII) percent-encoded as UTF-8, the rest as stored. The CSV part
    carries the stored string itself."""
    return quote(url, safe=_URI_SAFE)


def _hash_values(hashes: dict[str, str]) -> dict[str, str]:
    values = {name: hashes[name] for name in _SCHEMA_HASHES if hashes.get(name)}
    if hashes.get("pdq"):
        values["pdq"] = hashes["pdq"]
    return values


def classification(value: str | None) -> str:
    return CLASSIFICATIONS.get((value or "").strip().lower(), "baseline")


def report_id(message_id: str, case_id: int) -> str:
    """A UUID in version-4 layout, derived from the notice and the case: the same notice
    rendered again (a retry) carries the same report ids."""
    digest = hashlib.sha256(f"{message_id}\0{case_id}".encode()).digest()[:16]
    return str(uuid.UUID(bytes=digest, version=4))


def report_json(report: dict[str, Any]) -> str:
    """The JSON text of one report (ASCII: every other character escaped). One line: an
    indented dump takes the pure-Python encoder, ~40 % of a notice's rendering."""
    return json.dumps(report, ensure_ascii=True)


def feedback_report() -> str:
    """The body of the machine-readable `message/feedback-report` part (RFC 5965 fields)."""
    return f"Feedback-Type: xarf\r\nUser-Agent: {USER_AGENT}\r\nVersion: 1\r\n"


def report_filename(item: NoticeItem) -> str:
    return f"xarf-{item.reference}.json"


def reports_in(message: Message) -> list[dict[str, Any]]:
    """The X-ARF reports of a received notice, in order (for abuse-desk tooling and tests):
    the JSON parts of a report whose feedback-report part says `Feedback-Type: xarf`."""
    parts = list(message.walk())
    fields = [p for p in parts if p.get_content_type() == "message/feedback-report"]
    if not any(_says_xarf(part) for part in fields):
        return []
    found = []
    for part in parts:
        if part.get_content_type() == "application/json":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found.append(json.loads(payload))
    return found


def _says_xarf(part: Message) -> bool:
    """The email package reads a message/feedback-report body as a header block (a list of
    one message); other parsers leave it text."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = [block for block in payload if isinstance(block, Message)]
        kinds = [str(block.get("Feedback-Type", "")).strip().lower() for block in blocks]
        return "xarf" in kinds
    return bool(re.search(r"(?im)^feedback-type:[ \t]*xarf[ \t]*$", str(payload)))
