"""Typed access to the resolution tables: RDAP cache, contact book, hotlines, case routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

import asyncpg

from service.db.queries import q
from service.domain.states import CaseState, check_transition


class ContactRuleRow(TypedDict):
    """A contact-book rule: one selector (cidr, asn, domain or hoster) and its effects."""

    id: int
    cidr: str | None
    asn: int | None
    domain: str | None
    hoster: str | None
    address: str | None
    language: str | None
    do_not_contact: bool
    via_hotline: str | None
    cc: list[str]
    note: str | None
    created_by: str
    created_at: datetime


class HotlineRow(TypedDict):
    """A partner hotline and its routing policy (its token is never read out)."""

    country: str
    name: str
    address: str | None
    language: str | None
    policy: str
    url: str | None
    updated_at: datetime


class UpstreamSubject(TypedDict):
    """What an upstream lookup needs from a case's route; `upstream_lookup` None: not asked."""

    ip_addresses: list[str]
    asn: int | None
    recipients: list[dict[str, Any]]
    upstream_lookup: dict[str, Any] | None


class SplitCase(TypedDict):
    """A case whose host is served from several networks."""

    id: int
    url: str
    state: str
    hoster: str | None
    other_hosters: list[str]
    last_check: str | None


@dataclass(frozen=True)
class CachedNetwork:
    negative: bool
    record: dict[str, Any] | None
    start: str
    end: str
    remaining: float  # seconds until the entry expires
    origin_asn: int | None = None  # the origin AS it was learned for


async def network_for_ip(
    conn: asyncpg.Connection, ip: str, origin_asn: int | None = None
) -> CachedNetwork | None:
    row = await conn.fetchrow(q("resolve_network_for_ip"), ip, origin_asn)
    if row is None:
        return None
    return CachedNetwork(
        row["negative"],
        row["record"],
        _host(row["start_addr"]),
        _host(row["end_addr"]),
        float(row["remaining"]),
        row["origin_asn"],
    )


def _host(value: Any) -> str:
    # asyncpg returns inet host addresses as ipaddress objects (interfaces when masked).
    return str(getattr(value, "ip", value))


async def store_network(
    conn: asyncpg.Connection,
    start: str,
    end: str,
    *,
    registry: str | None,
    handle: str | None,
    record: dict[str, Any] | None,
    ttl: timedelta,
    origin_asn: int | None = None,
) -> None:
    await conn.execute(
        q("resolve_store_network"),
        start,
        end,
        registry,
        handle,
        record is None,
        record,
        ttl,
        origin_asn,
    )


async def purge_expired(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval(q("resolve_purge_expired"))
    return count


async def domain_get(
    conn: asyncpg.Connection, domain: str
) -> tuple[bool, dict[str, Any] | None] | None:
    row = await conn.fetchrow(q("resolve_domain_get"), domain)
    return None if row is None else (row["negative"], row["record"])


async def domain_store(
    conn: asyncpg.Connection, domain: str, record: dict[str, Any] | None, ttl: timedelta
) -> None:
    await conn.execute(q("resolve_domain_store"), domain, record is None, record, ttl)


async def all_rules(conn: asyncpg.Connection) -> list[ContactRuleRow]:
    return [cast(ContactRuleRow, dict(r)) for r in await conn.fetch(q("resolve_rules_all"))]


async def add_rule(
    conn: asyncpg.Connection,
    *,
    cidr: str | None = None,
    asn: int | None = None,
    domain: str | None = None,
    hoster: str | None = None,
    address: str | None = None,
    language: str | None = None,
    do_not_contact: bool = False,
    via_hotline: str | None = None,
    cc: list[str] | None = None,
    note: str | None = None,
    created_by: str = "cli",
) -> int:
    rule_id: int = await conn.fetchval(
        q("resolve_rule_add"),
        cidr,
        asn,
        domain.lower().rstrip(".") if domain else None,
        hoster,
        address.lower() if address else None,
        language,
        do_not_contact,
        via_hotline.upper() if via_hotline else None,
        [a.lower() for a in cc or []],
        note,
        created_by,
    )
    return rule_id


async def remove_rule(conn: asyncpg.Connection, rule_id: int) -> bool:
    return await conn.fetchval(q("resolve_rule_remove"), rule_id) is not None


async def all_hotlines(conn: asyncpg.Connection) -> list[HotlineRow]:
    return [cast(HotlineRow, dict(r)) for r in await conn.fetch(q("resolve_hotlines_all"))]


async def set_hotline(
    conn: asyncpg.Connection,
    country: str,
    *,
    name: str,
    address: str | None,
    language: str | None,
    policy: str,
) -> None:
    await conn.execute(
        q("resolve_hotline_set"),
        country.upper(),
        name,
        address.lower() if address else None,
        language,
        policy,
    )


async def remove_hotline(conn: asyncpg.Connection, country: str) -> bool:
    return await conn.fetchval(q("resolve_hotline_remove"), country.upper()) is not None


async def start_many(
    conn: asyncpg.Connection, attempts: dict[int, int], *, actor: str
) -> dict[int, str]:
    """Take up cases (case id → its job's attempt) in one statement: workable ones not yet
    'resolving' move there with their event; per workable case, its URL."""
    for state in (CaseState.RECEIVED, CaseState.UNRESOLVED):
        check_transition(state, CaseState.RESOLVING)
    ids = sorted(attempts)
    rows = await conn.fetch(q("resolve_start_many"), ids, [attempts[i] for i in ids], actor)
    return {row["id"]: row["url"] for row in rows}


async def lock_resolving(conn: asyncpg.Connection, case_ids: list[int]) -> set[int]:
    """Of `case_ids`, those still 'resolving', locked in id order (in the caller's transaction)."""
    rows = await conn.fetch(q("resolve_lock_resolving"), sorted(set(case_ids)))
    return {row["id"] for row in rows}


async def store_route(conn: asyncpg.Connection, case_id: int, route: dict[str, Any]) -> None:
    await store_routes(conn, {case_id: route})


async def store_routes(conn: asyncpg.Connection, routes: dict[int, dict[str, Any]]) -> None:
    """The routing decisions of many cases (case id → route row), replacing earlier ones, with
    the routes of their other networks: three statements for any number of cases."""
    if not routes:
        return
    ids = sorted(routes)
    await conn.execute(q("resolve_store_routes"), [_route_columns(i, routes[i]) for i in ids])
    await conn.execute(q("resolve_clear_address_routes"), ids)
    others = [
        {**_address_route_columns(other), "case_id": case_id, "position": position}
        for case_id in ids
        for position, other in enumerate(routes[case_id].get("address_routes") or [], 1)
    ]
    if others:
        await conn.execute(q("resolve_store_address_routes"), others)


_ROUTE_COLUMNS = ("ip_addresses", "network", "hoster", "asn", "country", "cdn", "registrar",
                  "hotline", "recipients", "no_contact_reason")  # fmt: skip
_ADDRESS_ROUTE_COLUMNS = ("ip_addresses", "network", "hoster", "asn", "country", "recipients",
                          "no_contact_reason")  # fmt: skip


def _route_columns(case_id: int, route: dict[str, Any]) -> dict[str, Any]:
    return {"case_id": case_id, **{column: route[column] for column in _ROUTE_COLUMNS}}


def _address_route_columns(route: dict[str, Any]) -> dict[str, Any]:
    return {column: route[column] for column in _ADDRESS_ROUTE_COLUMNS}


async def conclude_many(
    conn: asyncpg.Connection, decided: dict[int, tuple[bool, dict[str, Any]]], *, actor: str
) -> set[int]:
    """Resolving cases (case id → resolved?, event detail) become resolved (resolved_at
    stamped) or unresolved, each with its 'resolution' event, in one statement; the ids moved."""
    for to_state in (CaseState.RESOLVED, CaseState.UNRESOLVED):
        check_transition(CaseState.RESOLVING, to_state)
    if not decided:
        return set()
    rows = await conn.fetch(
        q("resolve_conclude_many"),
        [
            {"case_id": i, "resolved": resolved, "detail": detail}
            for i, (resolved, detail) in sorted(decided.items())
        ],
        actor,
    )
    return {row["id"] for row in rows}


async def add_deferrals(
    conn: asyncpg.Connection, details: dict[int, dict[str, Any]], *, actor: str
) -> None:
    """A 'resolution_deferred' event (a transient lookup failure) on each case of `details`."""
    if details:
        rows = [{"case_id": i, "detail": d} for i, d in sorted(details.items())]
        await conn.execute(q("resolve_deferred_many"), rows, actor)


async def upstream_subject(conn: asyncpg.Connection, case_id: int) -> UpstreamSubject | None:
    """The route's addresses, origin AS, recipients and upstream lookup state (None: no route)."""
    row = await conn.fetchrow(q("resolve_upstream_subject"), case_id)
    return None if row is None else cast(UpstreamSubject, dict(row))


async def request_upstream(conn: asyncpg.Connection, case_id: int, lookup: dict[str, Any]) -> None:
    await conn.execute(q("resolve_upstream_requested"), case_id, lookup)


async def settle_upstream(
    conn: asyncpg.Connection,
    case_id: int,
    recipients: list[dict[str, Any]],
    lookup: dict[str, Any],
) -> bool:
    """Store what the lookup came to; False when no request stands (route decided again)."""
    return (
        await conn.fetchval(q("resolve_upstream_settled"), case_id, recipients, lookup) is not None
    )


async def split_cases(conn: asyncpg.Connection, limit: int = 50) -> list[SplitCase]:
    """Cases whose host is served from several networks (see resolve_split_cases)."""
    rows = await conn.fetch(q("resolve_split_cases"), limit)
    return [cast(SplitCase, dict(r)) for r in rows]
