"""Who to write to, read from one RDAP object: walk nested entities, rank, explain.

Pure: an RDAP JSON document (already fetched, entities without a vCard already completed by
the caller) goes in; ranked contacts with their provenance come out. The rules follow what
registries really publish (see design §8):

- the abuse role may sit at the root or nested in the registrant (ARIN), roles are compared
  case-insensitively, `null` entities are skipped and an address listed twice counts once;
- a national registry's IRT (KRNIC, JPNIC, …) is a fallback behind the ISP's own abuse@;
- without any abuse role (AFRINIC) an abuse@ mailbox in a vCard is a medium-confidence guess,
  role mailboxes (noc@, support@) are low-confidence fallbacks, and personal ones are never used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from service.domain.placeholders import is_placeholder, normalise_address

NIR_IRT_HANDLES = re.compile(r"^IRT-(KRNIC|JPNIC|TWNIC|CNNIC|IDNIC|VNNIC|IRINN)", re.I)
NIR_DOMAINS = ("nic.or.kr", "nic.ad.jp", "twnic.net.tw", "cnnic.cn", "idnic.net", "vnnic.vn")
_ABUSE_LOCAL = re.compile(r"abuse")
_ROLE_LOCAL = re.compile(
    r"abuse|noc|support|helpdesk|hostmaster|ip-?maint|ipadm|security|netops|operations|"
    r"network|soc|cert|csirt|info|contact|admin|registry"
)


@dataclass(frozen=True)
class Contact:
    """One ranked recipient candidate and how it was found."""

    address: str
    role: str  # "abuse" | "abuse-mailbox" | "nir-irt" | "fallback"
    source: str  # e.g. "rdap:entity ABUSE5250-ARIN (abuse, nested in GOGL)"
    confidence: str  # "high" | "medium" | "low"
    handle: str | None = None


@dataclass(frozen=True)
class ContactFindings:
    """The ranked contacts of one RDAP object and what the registry did (not) publish."""

    contacts: tuple[Contact, ...]
    no_abuse_role: bool
    notes: tuple[str, ...] = ()

    @property
    def preferred(self) -> str | None:
        """The address a notice goes to first; None when only low-confidence guesses exist."""
        for contact in self.contacts:
            if contact.confidence != "low":
                return contact.address
        return None


@dataclass
class _Seen:
    address: str
    handle: str | None
    roles: set[str]
    parent: str | None
    order: int
    unvalidated: bool
    email_types: set[str] = field(default_factory=set)
    abuse_located: bool = False


def walk_entities(doc: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every entity of the document, depth first, with the handle of its parent entity."""
    stack: list[tuple[dict[str, Any], str | None]] = [
        (e, None) for e in reversed(doc.get("entities") or []) if isinstance(e, dict)
    ]
    while stack:
        entity, parent = stack.pop()
        yield entity, parent
        children = entity.get("entities") or []
        stack.extend((c, entity.get("handle")) for c in reversed(children) if isinstance(c, dict))


def roles_of(entity: dict[str, Any]) -> set[str]:
    return {str(r).strip().lower() for r in entity.get("roles") or [] if r}


def vcard_emails(entity: dict[str, Any]) -> list[tuple[str, set[str]]]:
    """(address, types) of every email property of the entity's vCard, in order."""
    vcard = entity.get("vcardArray")
    if not isinstance(vcard, list) or len(vcard) < 2 or not isinstance(vcard[1], list):
        return []
    found = []
    for prop in vcard[1]:
        if isinstance(prop, list) and len(prop) >= 4 and str(prop[0]).lower() == "email":
            params = prop[1] if isinstance(prop[1], dict) else {}
            kinds = params.get("type") or []
            kinds = [kinds] if isinstance(kinds, str) else kinds
            if isinstance(prop[3], str):
                found.append((prop[3], {str(k).lower() for k in kinds}))
    return found


def vcard_name(entity: dict[str, Any]) -> str | None:
    vcard = entity.get("vcardArray")
    if isinstance(vcard, list) and len(vcard) > 1 and isinstance(vcard[1], list):
        for prop in vcard[1]:
            if isinstance(prop, list) and len(prop) >= 4 and prop[0] == "fn" and prop[3]:
                return str(prop[3])
    return None


def _is_unvalidated(entity: dict[str, Any]) -> bool:
    remarks = entity.get("remarks") or []
    return any(
        isinstance(r, dict) and "unvalidated" in str(r.get("title", "")).lower() for r in remarks
    )


def collect(doc: dict[str, Any]) -> list[_Seen]:
    """Every usable address once, with the union of the roles under which it appeared."""
    seen: dict[str, _Seen] = {}
    for entity, parent in walk_entities(doc):
        for raw, kinds in vcard_emails(entity):
            if is_placeholder(raw):
                continue
            address = normalise_address(raw)
            item = seen.get(address)
            if item is None:
                item = _Seen(address, entity.get("handle"), set(), parent, len(seen), False)
                seen[address] = item
            item.roles |= roles_of(entity)
            item.email_types |= kinds
            item.unvalidated = item.unvalidated or _is_unvalidated(entity)
            if "abuse" in roles_of(entity) and not item.abuse_located:
                # Provenance names the entity that made it an abuse contact.
                item.handle, item.parent, item.abuse_located = entity.get("handle"), parent, True
    return list(seen.values())


def is_nir_irt(item: _Seen) -> bool:
    domain = item.address.rpartition("@")[2]
    return bool(item.handle and NIR_IRT_HANDLES.match(item.handle)) or any(
        domain == d or domain.endswith("." + d) for d in NIR_DOMAINS
    )


def _source(item: _Seen, what: str) -> str:
    nested = f", nested in {item.parent}" if item.parent else ""
    return f"rdap:entity {item.handle or '?'} ({what}{nested})"


def _abuse_key(item: _Seen) -> tuple[int, int, int]:
    # An abuse@-looking mailbox of a dedicated abuse entity first, then registry order.
    local = item.address.partition("@")[0]
    dedicated = item.roles <= {"abuse", "registrant"}
    return (0 if _ABUSE_LOCAL.search(local) else 1, 0 if dedicated else 1, item.order)


def rank(items: list[_Seen]) -> ContactFindings:
    """Order the collected addresses by how sure we are that they reach an abuse desk."""
    abuse = [i for i in items if "abuse" in i.roles and not is_nir_irt(i)]
    nir = [i for i in items if "abuse" in i.roles and is_nir_irt(i)]
    others = [i for i in items if "abuse" not in i.roles]
    no_abuse_role = not abuse and not nir
    contacts = [
        Contact(
            i.address,
            "abuse",
            _source(i, "abuse role" + (", unvalidated POC" if i.unvalidated else "")),
            "medium" if i.unvalidated else "high",
            i.handle,
        )
        for i in sorted(abuse, key=_abuse_key)
    ]
    notes: list[str] = []
    if not contacts:
        contacts += _mailbox_guesses(others, bool(nir))
    contacts += [
        Contact(i.address, "nir-irt", _source(i, "national registry IRT"), "medium", i.handle)
        for i in sorted(nir, key=_abuse_key)
    ]
    if nir and not abuse:
        notes.append("the abuse role belongs to a national registry, not the network's operator")
    if no_abuse_role:
        notes.append("the registry publishes no abuse contact for this object")
        if not any(c.confidence != "low" for c in contacts):
            contacts += _fallbacks(others, {c.address for c in contacts})
    return ContactFindings(tuple(contacts), no_abuse_role, tuple(notes))


def _mailbox_guesses(others: list[_Seen], behind_nir: bool) -> list[Contact]:
    """abuse@-style mailboxes published outside any abuse role (KRNIC ISPs, AFRINIC orgs)."""
    found = [i for i in others if _ABUSE_LOCAL.search(i.address.partition("@")[0])]
    what = "abuse mailbox in the operator's contact" if behind_nir else "abuse mailbox, no role"
    return [
        Contact(i.address, "abuse-mailbox", _source(i, what), "medium", i.handle)
        for i in sorted(found, key=lambda i: i.order)
    ]


def _fallbacks(others: list[_Seen], taken: set[str]) -> list[Contact]:
    """Role mailboxes (noc@, support@, …) as low-confidence fallbacks; personal ones never."""
    found = [
        i
        for i in others
        if i.address not in taken and _ROLE_LOCAL.search(i.address.partition("@")[0])
    ]
    return [
        Contact(
            i.address, "fallback", _source(i, "role mailbox, not an abuse desk"), "low", i.handle
        )
        for i in sorted(found, key=lambda i: i.order)
    ]


def extract_contacts(doc: dict[str, Any]) -> ContactFindings:
    """Ranked contacts of an RDAP ip/autnum/entity object (see module docstring)."""
    return rank(collect(doc))


def entities_missing_vcard(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Entities worth a second fetch: no vCard, a self link, and a role that can matter.

    An abuse role always; technical/administrative/noc only when no abuse address is known
    yet. Maintainer objects (registrant *-MNT) are noise and are never fetched.
    """
    known_abuse = any("abuse" in i.roles for i in collect(doc))
    wanted = {"abuse"} if known_abuse else {"abuse", "technical", "administrative", "noc"}
    found = []
    for entity, _parent in walk_entities(doc):
        if "vcardArray" in entity or not (roles_of(entity) & wanted):
            continue
        if self_link(entity) and not str(entity.get("handle", "")).upper().endswith("-MNT"):
            found.append(entity)
    return found


def self_link(entity: dict[str, Any]) -> str | None:
    for link in entity.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return None
