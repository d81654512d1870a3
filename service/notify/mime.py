"""Writing a notice's MIME message directly as bytes.

The `email` package's classes and generator cost ~2.5 ms per notice (header folding, boundary
searches, quoted-printable in Python); a notice always has the same shape, so it is written
here: multipart/report of (multipart/alternative of text + HTML), the feedback-report part,
the X-ARF v4 JSON reports and the CSV attachment. Bodies are quoted-printable (binascii, in C)
or base64, so no body line can look like a boundary, which starts with "=_" (QP writes a
literal "=" as "=3D"; base64 only ends with "="). Header values are checked to be one line
of printable ASCII (folds aside) before they are written: nothing can add a header.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

CRLF = "\r\n"
# A fold (CRLF + whitespace) is the only line break a header value may contain.
_FOLD = re.compile(r"\r\n[ \t]")
_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")
_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")


class UnsafeHeader(ValueError):
    """A header value that cannot be written (a line break, a non-ASCII character): the
    message can never be built from this notice, however often it is tried."""


@dataclass(frozen=True)
class RawMessage:
    """A complete RFC 5322 message, serialised with CRLF line ends."""

    data: bytes

    def as_bytes(self) -> bytes:
        return self.data


def header_lines(headers: Sequence[tuple[str, str]]) -> str:
    """The header block; a value with a line break or a non-ASCII character is refused."""
    lines = []
    for name, value in headers:
        if not _HEADER_NAME.fullmatch(name) or not _HEADER_SAFE.fullmatch(_FOLD.sub(" ", value)):
            raise UnsafeHeader(f"unsafe value for mail header {name!r}")
        lines.append(f"{name}: {value}{CRLF}")
    return "".join(lines)


def boundary() -> str:
    return "=_tt_" + secrets.token_hex(12)


def text_part(text: str, subtype: str, disposition: str = "") -> str:
    """A UTF-8 text part, quoted-printable (line breaks canonical, the prose readable)."""
    canonical = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    body = binascii.b2a_qp(canonical, istext=True).decode("ascii").replace("\n", CRLF)
    headers = [
        ("Content-Type", f'text/{subtype}; charset="utf-8"'),
        ("Content-Transfer-Encoding", "quoted-printable"),
    ]
    if disposition:
        headers.append(("Content-Disposition", disposition))
    return header_lines(headers) + CRLF + body


def attachment_part(text: str, subtype: str, disposition: str, maintype: str = "text") -> str:
    """A UTF-8 text attachment in base64: its bytes (CRLFs included) arrive exactly."""
    body = base64.encodebytes(text.encode("utf-8")).decode("ascii").rstrip("\n")
    headers = [
        ("Content-Type", f'{maintype}/{subtype}; charset="utf-8"'),
        ("Content-Transfer-Encoding", "base64"),
        ("Content-Disposition", disposition),
    ]
    return header_lines(headers) + CRLF + body.replace("\n", CRLF)


def plain_part(content_type: str, body: str, disposition: str = "inline") -> str:
    """A 7-bit part written as is (`body`: ASCII lines with CRLF ends, e.g. a field block)."""
    headers = [("Content-Type", content_type), ("Content-Disposition", disposition)]
    return header_lines(headers) + CRLF + body


def multipart(
    subtype: str, parts: list[str], headers: Sequence[tuple[str, str]] = (), params: str = ""
) -> str:
    """A multipart entity around `parts` (each: its headers, a blank line, its body);
    `params`: more Content-Type parameters ("report-type=feedback-report")."""
    mark = boundary()
    extra = f"; {params}" if params else ""
    content_type = f'multipart/{subtype}{extra}; boundary="{mark}"'
    head = header_lines([*headers, ("Content-Type", content_type)])
    body = "".join(f"--{mark}{CRLF}{part}{CRLF}" for part in parts)
    return f"{head}{CRLF}{body}--{mark}--{CRLF}"
