"""Does an HTML page ask for a password? Seen while the body streams past, nothing kept.

A login wall (a file host asking anonymous visitors to sign in) may hide the file from the
prober alone, so the verdict must not read it as a removal (docs/verdicts.md). Only the
first `SCAN_BYTES` of an HTML body are looked at, and of them only a short tail is held
between chunks so that a tag split over two reads is still found.
"""

from __future__ import annotations

import re

SCAN_BYTES = 256 * 1024
_TAIL = 256  # longer than any <input …> tag worth matching
_PASSWORD_INPUT = re.compile(rb"<input\b[^>]*\btype\s*=\s*[\"']?password\b", re.IGNORECASE)


class LoginFormSniffer:
    """Fed the decoded body in pieces; `found` once a password field has been seen."""

    def __init__(self) -> None:
        self.found = False
        self._tail = b""
        self._seen = 0

    def feed(self, piece: bytes) -> None:
        if self.found or self._seen >= SCAN_BYTES:
            return
        piece = piece[: SCAN_BYTES - self._seen]
        self._seen += len(piece)
        window = self._tail + piece
        self.found = _PASSWORD_INPUT.search(window) is not None
        self._tail = window[-_TAIL:]


def is_html(content_type: str) -> bool:
    """Only pages are sniffed: an image's bytes may contain anything."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind in ("text/html", "application/xhtml+xml")
