"""The CSV attachment listing a notice's items, safe to open in a spreadsheet.

A cell starting with = + - @ TAB or CR is a formula to spreadsheet programs (CSV injection);
such cells get a leading apostrophe. URLs (http…) and hex hashes never need it, so the
machine-readable values stay exact.
"""

from __future__ import annotations

import csv
import io

from service.notify.items import HASH_NAMES, NoticeItem, utc_text

# "removed_before" (last): when content that is back online had been removed, else empty.
COLUMNS = (
    "reference",
    "url",
    *HASH_NAMES,
    "media_type",
    "first_detected",
    "last_seen",
    "removed_before",
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """The cell as written: formula-looking text is neutralised with a leading quote."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def items_csv(items: list[NoticeItem]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for item in items:
        row = [
            item.reference,
            item.url,
            *[item.hashes.get(name, "") for name in HASH_NAMES],
            item.media_type,
            utc_text(item.detected_at),
            utc_text(item.last_seen_at),
            utc_text(item.removed_at) if item.reappeared else "",
        ]
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def parse_items_csv(text: str) -> list[dict[str, str]]:
    """Read the attachment back (for abuse-desk tooling and tests)."""
    return list(csv.DictReader(io.StringIO(text, newline="")))
