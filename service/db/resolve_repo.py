"""Typed access to the resolution tables: RDAP cache, contact book, hotlines, case routes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

import asyncpg

from service.db.queries import q


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


class CaseForJob(TypedDict):
    """The case a resolve job is about."""

    id: int
    url: str
    host: str
    state: str


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


async def case_for_job(conn: asyncpg.Connection, case_id: int) -> CaseForJob | None:
    row = await conn.fetchrow(q("resolve_case_for_job"), case_id)
    return None if row is None else cast(CaseForJob, dict(row))


async def store_route(conn: asyncpg.Connection, case_id: int, route: dict[str, Any]) -> None:
    await conn.execute(
        q("resolve_store_route"),
        case_id,
        route["ip_addresses"],
        route["network"],
        route["hoster"],
        route["asn"],
        route["country"],
        route["cdn"],
        route["registrar"],
        route["hotline"],
        route["recipients"],
        route["no_contact_reason"],
    )
    await conn.execute(q("resolve_clear_address_routes"), case_id)
    others = route.get("address_routes") or []
    if others:
        await conn.execute(
            q("resolve_store_address_routes"),
            case_id,
            list(range(1, len(others) + 1)),
            [",".join(r["ip_addresses"]) for r in others],
            [json.dumps(r["network"]) for r in others],
            [r["hoster"] for r in others],
            [r["asn"] for r in others],
            [r["country"] for r in others],
            [json.dumps(r["recipients"]) for r in others],
            [r["no_contact_reason"] for r in others],
        )


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
