"""The facts a notice states about one item (never the material itself)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from service.domain.notices import case_reference

HashName = Literal["sha256", "sha1", "md5", "pdq"]
HASH_NAMES: tuple[HashName, ...] = ("sha256", "sha1", "md5", "pdq")


@dataclass(frozen=True)
class NoticeItem:
    """One URL of a notice: where, which known content (hashes), since when, last seen; and
    whether it is back after a confirmed removal (and when it was last removed)."""

    case_id: int
    url: str
    hashes: dict[str, str]
    media_type: str
    detected_at: datetime
    last_seen_at: datetime | None
    reappeared: bool = False
    removed_at: datetime | None = None
    classification: str | None = None  # as the scanner gave it (free text)

    @property
    def reference(self) -> str:
        return case_reference(self.case_id)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> NoticeItem:
        return cls(
            case_id=row["case_id"],
            url=row["url"],
            hashes={name: row[name] for name in HASH_NAMES if row.get(name)},
            media_type=row["media_type"],
            detected_at=row["detected_at"],
            last_seen_at=row.get("last_seen_at"),
            reappeared=bool(row.get("reappeared")),
            removed_at=row.get("removed_before") if row.get("reappeared") else None,
            classification=row.get("classification"),
        )


def utc_text(value: datetime | None) -> str:
    """Timestamps as written in notices and their machine parts (ISO 8601, UTC)."""
    if value is None:
        return ""
    return _utc_text(value)


@lru_cache(maxsize=4096)  # each item's times are written ~7 times per notice (prose, parts)
def _utc_text(value: datetime) -> str:
    if value.tzinfo is None:  # the database hands out aware values; be safe with others
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
