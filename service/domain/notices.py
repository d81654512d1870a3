"""Pure notice policy: who gets the notice, how items are batched, deadlines, safe wording.

Nothing here performs I/O; the outbox and notify stages decide with these functions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")

LANGUAGES = ("en", "nl", "de", "fr")
DEFAULT_LANGUAGE = "en"
# The language a notice is written in when the contact book does not say (by hosting country).
COUNTRY_LANGUAGE = {
    "NL": "nl",
    "BE": "nl",
    "SR": "nl",
    "DE": "de",
    "AT": "de",
    "CH": "de",
    "LI": "de",
    "FR": "fr",
    "LU": "fr",
    "MC": "fr",
    "SN": "fr",
    "CI": "fr",
    "CA": "en",
}
# Deliberately strict: addresses come from RDAP/DNS data anyone can write, and end up in
# SMTP envelopes and headers; anything with spaces, quotes, CR/LF or non-ASCII is refused.
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"
)

SUBJECTS = {
    "en": {
        "notice": "Removal request {ref}: {count} URL(s) with known child abuse material",
        "reminder": "Reminder {ref}: {count} URL(s) still serve known child abuse material",
        "escalation": "Escalation {ref}: {count} URL(s) still online after the deadline",
        "withdrawal": "Withdrawn {ref}: our report of {count} URL(s) is taken back",
    },
    "nl": {
        "notice": "Verwijderverzoek {ref}: {count} URL('s) met bekend kindermisbruikmateriaal",
        "reminder": "Herinnering {ref}: {count} URL('s) tonen nog kindermisbruikmateriaal",
        "escalation": "Escalatie {ref}: {count} URL('s) nog online na de termijn",
        "withdrawal": "Ingetrokken {ref}: onze melding van {count} URL('s) vervalt",
    },
    "de": {
        "notice": "Löschersuchen {ref}: {count} URL(s) mit bekanntem Missbrauchsmaterial",
        "reminder": "Erinnerung {ref}: {count} URL(s) zeigen weiterhin Missbrauchsmaterial",
        "escalation": "Eskalation {ref}: {count} URL(s) nach Ablauf der Frist online",
        "withdrawal": "Zurückgezogen {ref}: unsere Meldung von {count} URL(s)",
    },
    "fr": {
        "notice": "Demande de retrait {ref} : {count} URL(s) de contenus pédocriminels connus",
        "reminder": "Rappel {ref} : {count} URL(s) diffusent toujours ces contenus",
        "escalation": "Escalade {ref} : {count} URL(s) toujours en ligne après le délai",
        "withdrawal": "Retrait {ref} : notre signalement de {count} URL(s) est retiré",
    },
}

# Added to the subject when content of the notice is back after a confirmed removal.
REAPPEARED_SUBJECT = {
    "en": "back online after removal",
    "nl": "opnieuw online na verwijdering",
    "de": "nach Entfernung wieder online",
    "fr": "de nouveau en ligne après retrait",
}


@dataclass(frozen=True)
class Recipient:
    """One contact of a case's routing decision: ranked (an alternative) or a copy (Cc)."""

    address: str
    role: str = "abuse"
    source: str = ""
    confidence: float = 0.0
    language: str | None = None
    rank: int = 0
    copy: bool = False


def is_valid_address(address: str) -> bool:
    return bool(_ADDRESS.fullmatch(address)) and ".." not in address


def parse_recipients(raw: Iterable[Mapping[str, Any]]) -> list[Recipient]:
    """Ranked recipients from `case_routes.recipients`, unusable addresses dropped."""
    found = []
    for position, entry in enumerate(raw):
        address = str(entry.get("address") or "").strip().lower()
        if not is_valid_address(address):
            continue
        found.append(
            Recipient(
                address=address,
                role=str(entry.get("role") or "abuse"),
                source=str(entry.get("source") or ""),
                confidence=_confidence(entry.get("confidence")),
                language=entry.get("language") or None,
                rank=_rank(entry.get("rank"), position),
                # Routes stored before copies were marked carry CCs as role "cc" only.
                copy=bool(entry.get("copy")) or entry.get("role") == "cc",
            )
        )
    return sorted(found, key=lambda r: r.rank)


def split_copies(recipients: Sequence[Recipient]) -> tuple[list[Recipient], list[Recipient]]:
    """(ranked alternatives, copies) of a route's recipients."""
    return [r for r in recipients if not r.copy], [r for r in recipients if r.copy]


def copy_addresses(copies: Iterable[Recipient], main: str, failing: set[str]) -> tuple[str, ...]:
    """Who gets a notice to `main` as Cc: the copies but `main` itself and failing addresses,
    sorted (the set is part of what makes a batch: items gather only with the same Cc)."""
    return tuple(sorted({c.address for c in copies} - {main} - failing))


# The resolver writes confidence as a word; older rows or other writers may use a number.
_CONFIDENCE_WORDS = {"high": 0.9, "medium": 0.6, "low": 0.3, "none": 0.0}


def _confidence(value: Any) -> float:
    if isinstance(value, str):
        return _CONFIDENCE_WORDS.get(value.strip().lower(), 0.0)
    try:
        return float(value or 0.0)
    except (TypeError, ValueError):
        return 0.0


def _rank(value: Any, position: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return position


def registrar_recipient(registrar: Mapping[str, Any] | None) -> Recipient | None:
    """The registrar's abuse desk as a last-resort recipient."""
    address = str((registrar or {}).get("abuse") or "").strip().lower()
    if not is_valid_address(address):
        return None
    return Recipient(address=address, role="registrar", source="registrar", rank=10_000)


def choose_recipient(
    recipients: Sequence[Recipient], registrar: Recipient | None, failing: set[str]
) -> Recipient | None:
    """The best-ranked contact not known to be failing; then the registrar; else None."""
    for candidate in [*recipients, *([registrar] if registrar else [])]:
        if candidate.address not in failing:
            return candidate
    return None


def choose_language(recipient_language: str | None, country: str | None) -> str:
    """The contact book's language if we write it, else the hosting country's, else English."""
    if recipient_language and recipient_language.lower()[:2] in LANGUAGES:
        return recipient_language.lower()[:2]
    return COUNTRY_LANGUAGE.get((country or "").upper(), DEFAULT_LANGUAGE)


def split_batches(items: Sequence[T], cap: int) -> list[list[T]]:
    """Items of one recipient in messages of at most `cap` URLs, in order."""
    if cap < 1:
        raise ValueError("cap must be at least 1")
    return [list(items[i : i + cap]) for i in range(0, len(items), cap)]


def deadline(
    sent_at: datetime, country: str | None, default: timedelta, by_country: Mapping[str, timedelta]
) -> datetime:
    """When the requested removal is due: the hosting country's norm, else the default SLA."""
    return sent_at + by_country.get((country or "").upper(), default)


def notice_reference(notice_id: int) -> str:
    """Stable reference quoted in the subject and expected in replies."""
    return f"TT-N{notice_id:06d}"


def case_reference(case_id: int) -> str:
    return f"TT-C{case_id:07d}"


def subject(
    kind: str, language: str, notice_id: int, count: int, *, reappeared: bool = False
) -> str:
    """The subject line; `reappeared` when any URL serves content that was removed before."""
    template = SUBJECTS.get(language, SUBJECTS[DEFAULT_LANGUAGE])[kind]
    text = template.format(ref=notice_reference(notice_id), count=count)
    if reappeared:
        text += " - " + REAPPEARED_SUBJECT.get(language, REAPPEARED_SUBJECT[DEFAULT_LANGUAGE])
    return header_safe(text)


def header_safe(text: str, limit: int = 200) -> str:
    """Text fit for a mail header: no control or format characters, bounded length."""
    cleaned = "".join(
        " " if unicodedata.category(ch)[0] in "CZ" and ch != " " else ch for ch in text
    )
    return " ".join(cleaned.split())[:limit]


def defang(url: str) -> str:
    """A URL written so mail filters and clients neither flag nor link it (humans can read it).

    `https://bad.example/x` → `hxxps://bad[.]example/x`. Control and bidi/format characters are
    made visible as escapes so the text shows exactly what the machine-readable part carries.
    """
    scheme, sep, rest = url.partition("://")
    if sep:
        scheme = scheme.replace("http", "hxxp").replace("HTTP", "HXXP")
        host, slash, path = rest.partition("/")
        rest = host.replace(".", "[.]") + slash + path
    return _visible(f"{scheme}{sep}{rest}")


def _visible(text: str) -> str:
    return "".join(
        ch if unicodedata.category(ch)[0] not in "CZ" or ch == " " else f"\\u{ord(ch):04x}"
        for ch in text
    )
