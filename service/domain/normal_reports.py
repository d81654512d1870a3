"""The intake's hot path: a batch whose reports are all already in their stored form, decoded
and checked in one pass in msgspec's C core.

Scanners send the same well-formed shape thousands of times a second; pydantic built two
models per report for it, a third of the API process's time. These types accept only values
that pydantic's ReportIn would accept *unchanged* — lower-case hex, no surrounding whitespace,
a plain RFC 3339 time — so a body decoded here means exactly what ReportIn would have made of
it. Anything else (upper-case hex, padding, another time format, a missing field, an unknown
key, a bad value) fails here and takes the full path, which words every problem with its
index; tests/unit/test_normal_reports.py checks that both paths agree.

Every pattern ends in \\Z, not $: msgspec searches with Python's re, where $ also matches
before a trailing newline that pydantic's strip would have removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

# Not a control character nor whitespace at either end (Python's \s covers every character
# pydantic's strip_whitespace removes), no control character inside: ShortText, unstripped.
_SHORT_TEXT = r"^[^\x00-\x20\x7f\s](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f\s])?\Z"
# RFC 3339 with an upper-case T and Z or a numeric offset; the calendar is checked when the
# string becomes a datetime.
_RFC3339 = (
    r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
)
_MEDIA_TYPE = r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\Z"

ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=_SHORT_TEXT)]


def _hex(length: int) -> msgspec.Meta:
    return msgspec.Meta(pattern=f"^[0-9a-f]{{{length}}}\\Z")


class NormalHashes(msgspec.Struct, forbid_unknown_fields=True):
    """The same fields as reports.Hashes, each already lower-case hex of its length."""

    sha256: Annotated[str, _hex(64)] | None = None
    sha1: Annotated[str, _hex(40)] | None = None
    md5: Annotated[str, _hex(32)] | None = None
    pdq: Annotated[str, _hex(64)] | None = None

    def present(self) -> dict[str, str]:
        pairs = (("sha256", self.sha256), ("sha1", self.sha1), ("md5", self.md5), ("pdq", self.pdq))
        return {name: value for name, value in pairs if value is not None}


class _Report(msgspec.Struct, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=8192)]
    hashes: NormalHashes
    media_type: Annotated[str, msgspec.Meta(pattern=_MEDIA_TYPE)]
    detected_at: Annotated[str, msgspec.Meta(pattern=_RFC3339)]
    source_ref: ShortText
    classification: ShortText | None = None


class _Envelope(msgspec.Struct):  # as in ReportsRequest, other top-level keys are ignored
    reports: Annotated[list[_Report], msgspec.Meta(min_length=1, max_length=1000)]


class NormalReport(msgspec.Struct):
    """A report as ReportIn would hold it (the attributes the intake reads)."""

    url: str
    hashes: NormalHashes
    media_type: str
    detected_at: datetime
    source_ref: str
    classification: str | None


_DECODER = msgspec.json.Decoder(_Envelope)


def decode_normal_batch(body: bytes) -> list[NormalReport] | None:
    """The body's reports, or None when anything in it needs the full path."""
    try:
        reports = _DECODER.decode(body).reports
    except msgspec.DecodeError:
        return None
    try:
        return [_normal(report) for report in reports]
    except ValueError:
        return None  # a date the calendar lacks, or a report without a hash


def _normal(report: _Report) -> NormalReport:
    hashes = report.hashes
    if hashes.sha256 is None and hashes.sha1 is None and hashes.md5 is None and hashes.pdq is None:
        raise ValueError("no hash")
    return NormalReport(
        report.url,
        hashes,
        report.media_type,
        datetime.fromisoformat(report.detected_at),
        report.source_ref,
        report.classification,
    )
