"""Which contact-book rules apply to a case, most specific first (pure).

Specificity: a domain rule (the longest matching domain of the URL's host) beats a CIDR rule
(the longest prefix containing a hosting address), which beats an ASN rule, which beats a
hoster-name rule. Only the first rule is applied by the routing policy; the others are
listed in the decision's provenance.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from service.domain.routing import BookRule

# How stale a resolver's snapshot of the contact book may be (service/resolve/contactbook.py);
# work that must see a rule just added waits this long.
CONTACT_BOOK_REFRESH = timedelta(seconds=5)


@dataclass(frozen=True)
class Subject:
    """What rules can match on."""

    host: str
    ips: tuple[str, ...]
    asn: int | None
    names: tuple[str, ...]  # hoster/org/network names, compared case-insensitively


def _specificity(row: dict[str, Any], subject: Subject) -> tuple[int, int] | None:
    """(tier, detail) where lower sorts first; None when the rule does not match."""
    if row.get("domain"):
        domain = str(row["domain"]).lower()
        host = subject.host.lower().rstrip(".")
        if host == domain or host.endswith("." + domain):
            return (0, -len(domain))
    elif row.get("cidr"):
        net = ipaddress.ip_network(str(row["cidr"]), strict=False)
        for ip in subject.ips:
            address = ipaddress.ip_address(ip)
            if address.version == net.version and address in net:
                return (1, -net.prefixlen)
    elif row.get("asn") is not None:
        if subject.asn is not None and int(row["asn"]) == subject.asn:
            return (2, 0)
    elif row.get("hoster"):
        wanted = str(row["hoster"]).strip().lower()
        if any(wanted == n.strip().lower() for n in subject.names if n):
            return (3, 0)
    return None


def describe(row: dict[str, Any]) -> str:
    for key in ("domain", "cidr", "asn", "hoster"):
        if row.get(key) is not None:
            return f"{key}:{row[key]}"
    return "?"


def to_rule(row: dict[str, Any]) -> BookRule:
    return BookRule(
        id=int(row["id"]),
        match=describe(row),
        address=row.get("address"),
        language=row.get("language"),
        do_not_contact=bool(row.get("do_not_contact")),
        via_hotline=row.get("via_hotline"),
        cc=tuple(row.get("cc") or ()),
    )


def matching_rules(rows: Iterable[dict[str, Any]], subject: Subject) -> tuple[BookRule, ...]:
    """Rules that match, most specific first (ties: the older rule first)."""
    scored = []
    for row in rows:
        score = _specificity(row, subject)
        if score is not None:
            scored.append((score, int(row["id"]), row))
    return tuple(to_rule(row) for _score, _id, row in sorted(scored, key=lambda s: s[:2]))
