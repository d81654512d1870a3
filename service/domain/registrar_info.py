"""The registrar of a domain, read from a domain RDAP answer (ICANN response profile).

Pure. gTLD registries nest an `abuse` entity inside the `registrar` entity and give the IANA
registrar id; ccTLD registries often do not, so the registrar's own address becomes a
low-confidence fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.domain.placeholders import is_placeholder, normalise_address
from service.domain.rdap_contacts import roles_of, vcard_emails, vcard_name, walk_entities


@dataclass(frozen=True)
class Registrar:
    """Who registered the domain and where abuse reports about it go."""

    name: str | None
    iana_id: str | None
    abuse: str | None
    confidence: str  # "high" (nested abuse entity) | "low" (registrar's own address) | "none"
    source: str = "rdap:domain"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "iana_id": self.iana_id,
            "abuse": self.abuse,
            "confidence": self.confidence,
            "source": self.source,
        }


def _iana_id(entity: dict[str, Any]) -> str | None:
    for public in entity.get("publicIds") or []:
        if isinstance(public, dict) and "iana" in str(public.get("type", "")).lower():
            return str(public.get("identifier"))
    handle = str(entity.get("handle") or "")
    return handle if handle.isdigit() else None  # Verisign uses the IANA id as handle


def _first_email(entity: dict[str, Any]) -> str | None:
    for raw, _kinds in vcard_emails(entity):
        if not is_placeholder(raw):
            return normalise_address(raw)
    return None


def _nested_abuse(entity: dict[str, Any]) -> str | None:
    for child, _parent in walk_entities(entity):
        if "abuse" in roles_of(child) and (address := _first_email(child)):
            return address
    return None


def registrar_from_domain(doc: dict[str, Any]) -> Registrar | None:
    """The registrar entity of a domain object, or None when the answer names none."""
    for entity, _parent in walk_entities(doc):
        if "registrar" not in roles_of(entity):
            continue
        name = vcard_name(entity)
        abuse = _nested_abuse(entity)
        if abuse:
            return Registrar(name, _iana_id(entity), abuse, "high")
        own = _first_email(entity)
        return Registrar(name, _iana_id(entity), own, "low" if own else "none")
    return None
