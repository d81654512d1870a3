"""The contact book: which of its rules apply to a case, and the resolver's snapshot of it.

Which rules apply, most specific first (pure): a domain rule (the longest matching domain of
the URL's host) beats a CIDR rule (the longest prefix containing a hosting address), which
beats an ASN rule, which beats a hoster-name rule. Only the first rule is applied by the
routing policy; the others are listed in the decision's provenance.

The book and the partner hotlines are small and read for every case, so each resolver keeps a
snapshot (`ContactBook`) and reloads it every few seconds (a rule added with the CLI applies
to cases resolved after that).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from service.db import resolve_repo
from service.db.resolve_repo import ContactRuleRow
from service.domain.routing import BookRule, Hotline

# How stale a resolver's snapshot of the contact book may be (ContactBook below);
# work that must see a rule just added waits this long.
CONTACT_BOOK_REFRESH = timedelta(seconds=5)


@dataclass(frozen=True)
class Subject:
    """What rules can match on."""

    host: str
    ips: tuple[str, ...]
    asn: int | None
    names: tuple[str, ...]  # hoster/org/network names, compared case-insensitively


def _specificity(row: Mapping[str, Any], subject: Subject) -> tuple[int, int] | None:
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


def describe(row: Mapping[str, Any]) -> str:
    for key in ("domain", "cidr", "asn", "hoster"):
        if row.get(key) is not None:
            return f"{key}:{row[key]}"
    return "?"


def to_rule(row: Mapping[str, Any]) -> BookRule:
    return BookRule(
        id=int(row["id"]),
        match=describe(row),
        address=row.get("address"),
        language=row.get("language"),
        do_not_contact=bool(row.get("do_not_contact")),
        via_hotline=row.get("via_hotline"),
        cc=tuple(row.get("cc") or ()),
    )


def matching_rules(rows: Iterable[Mapping[str, Any]], subject: Subject) -> tuple[BookRule, ...]:
    """Rules that match, most specific first (ties: the older rule first)."""
    scored = []
    for row in rows:
        score = _specificity(row, subject)
        if score is not None:
            scored.append((score, int(row["id"]), row))
    return tuple(to_rule(row) for _score, _id, row in sorted(scored, key=lambda s: s[:2]))


REFRESH_SECONDS = CONTACT_BOOK_REFRESH.total_seconds()


def to_hotline(row: Mapping[str, Any]) -> Hotline:
    return Hotline(
        country=row["country"],
        name=row["name"],
        address=row.get("address"),
        language=row.get("language"),
        policy=row.get("policy") or "direct",
    )


class ContactBook:
    """Contact-book rules and hotlines, reloaded from Postgres at most every few seconds."""

    def __init__(self, pool: asyncpg.Pool, refresh: float = REFRESH_SECONDS) -> None:
        self.pool = pool
        self.refresh = refresh
        self._rules: list[ContactRuleRow] = []
        self._hotlines: dict[str, Hotline] = {}
        self._loaded_at = float("-inf")

    async def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.refresh:
            return
        async with self.pool.acquire() as conn:
            self._rules = await resolve_repo.all_rules(conn)
            rows = await resolve_repo.all_hotlines(conn)
        self._hotlines = {r["country"]: to_hotline(r) for r in rows}
        self._loaded_at = time.monotonic()

    async def rules_for(self, subject: Subject) -> tuple[BookRule, ...]:
        await self._fresh()
        return matching_rules(self._rules, subject)

    async def hotlines(self) -> dict[str, Hotline]:
        await self._fresh()
        return self._hotlines
