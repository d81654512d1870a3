"""Aggregation: cases become items of the open notice batch of their best working contact.

Items for one recipient gather for `settings.notice_gather_window` and leave as one message
(split at `settings.notice_max_urls`). When a contact fails for good, its items move to the
next ranked contact, then the registrar, then the hotline's own queue.

A route's copies (contact-book CC, the hotline under a "both" country policy) are Cc
recipients of every notice of the route, whoever its main recipient is; batches are per main
recipient *and* Cc set, so a copy party only reads about its own routes' URLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from service.db import cases, jobs, notify_repo
from service.domain.notices import (
    Recipient,
    choose_language,
    choose_recipient,
    copy_addresses,
    parse_recipients,
    registrar_recipient,
    split_copies,
)
from service.domain.states import CaseState
from service.domain.upstream import UPSTREAM_ROLE
from service.notify.cdn_api import channel_for
from service.settings import Settings

ACTOR = "worker:outbox"
CDN_JOB = "cdn"  # the 'cdn' stage files the report through the CDN's API
# States in which a case still needs (another) notice: freshly resolved, or content back.
NEEDS_NOTICE = frozenset({CaseState.RESOLVED, CaseState.REAPPEARED})
# States in which a failed delivery is moved on to the next contact.
REROUTABLE = NEEDS_NOTICE | {CaseState.NOTIFIED, CaseState.ACKNOWLEDGED, CaseState.ESCALATED}


@dataclass(frozen=True)
class Placement:
    """Where a case went: a notice batch (with its send time) or the hotline queue."""

    notice_id: int | None
    recipient: str | None
    due_at: datetime | None
    reason: str | None = None
    cc: tuple[str, ...] = ()


async def place_case(
    conn: asyncpg.Connection,
    settings: Settings,
    case_id: int,
    *,
    kind: str = "notice",
    states: frozenset[CaseState] = NEEDS_NOTICE,
) -> Placement | None:
    """Add the case to its best recipient's open batch; None when it needs no notice now."""
    placed = await place_cases(conn, settings, [case_id], kind=kind, states=states)
    return placed.get(case_id)


async def place_cases(
    conn: asyncpg.Connection,
    settings: Settings,
    case_ids: list[int],
    *,
    kind: str = "notice",
    states: frozenset[CaseState] = NEEDS_NOTICE,
    email_only: bool = False,
) -> dict[int, Placement]:
    """`place_case` for many cases in a few statements; cases needing no notice are left out.

    A case behind a CDN whose abuse-report API is configured (service/notify/cdn_api.py) is
    handed to the 'cdn' stage instead of an e-mail batch, unless `email_only` (the API
    refused the report: e-mail is the fallback).

    Lock order (as for everything that writes about a notice's cases): every notice the
    cases will join first, in id order, then the cases in id order. So the decision is made
    from an unlocked read, and after the locks only whether each case still needs a notice
    is checked again (two rounds must not both place a case)."""
    async with conn.transaction():
        rows = await notify_repo.cases_for_outbox_many(conn, case_ids, kind)
        wanted = [r for r in rows if CaseState(r["state"]) in states and not r["in_flight"]]
        by_api: list[dict[str, Any]] = []
        if kind == "notice" and not email_only:
            wanted, by_api = _by_cdn_api(wanted, settings)
        if not wanted and not by_api:
            return {}
        plan = await _plan(conn, wanted)
        others = await _other_route_joins(conn, plan.primary())
        batches = await _open_batches(conn, settings, kind, [*plan.joins, *others])
        still = await notify_repo.lock_still_needing(
            conn, [r["id"] for r in [*wanted, *by_api]], kind, sorted(s.value for s in states)
        )
        await jobs.enqueue_for_cases(conn, CDN_JOB, [r["id"] for r in by_api if r["id"] in still])
        placed = {
            row["id"]: await _no_contact(conn, row, contacts, plan.failing)
            for row, contacts in plan.lost
            if row["id"] in still
        }
        joins = [j for j in [*plan.joins, *others] if j.case_id in still]
        placed |= await _add_items(conn, settings, batches, joins, primary=plan.joins)
    return placed


def _by_cdn_api(
    rows: list[dict[str, Any]], settings: Settings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(cases to e-mail, cases whose CDN takes the report through its API)."""
    by_mail: list[dict[str, Any]] = []
    by_api: list[dict[str, Any]] = []
    for row in rows:
        cdn = row.get("cdn") or {}
        api = channel_for(cdn.get("name"), settings) if isinstance(cdn, dict) else None
        (by_api if api is not None else by_mail).append(row)
    return by_mail, by_api


@dataclass(frozen=True)
class _Join:
    """A case joining the open batch of `choice` (country: its route's, for a new batch)."""

    case_id: int
    choice: _Choice
    country: str | None


@dataclass(frozen=True)
class _Plan:
    """Where each wanted case goes: a recipient's batch, or (no working contact) the hotline."""

    joins: list[_Join]
    lost: list[tuple[dict[str, Any], _Contacts]]
    failing: set[str]

    def primary(self) -> dict[int, str | None]:
        return {j.case_id: j.choice.recipient.address for j in self.joins}


async def _plan(conn: asyncpg.Connection, wanted: list[dict[str, Any]]) -> _Plan:
    contacts = {r["id"]: _contacts(r) for r in wanted}
    known = sorted({a for c in contacts.values() for a in [*c.addresses, *c.copy_addresses]})
    failing = await notify_repo.failing_among(conn, known)
    joins: list[_Join] = []
    lost: list[tuple[dict[str, Any], _Contacts]] = []
    for row in wanted:
        mine = contacts[row["id"]]
        recipient = mine.choose(failing)
        if recipient is None:
            lost.append((row, mine))
            continue
        cc = copy_addresses(mine.copies, recipient.address, failing)
        joins.append(_Join(row["id"], _Choice(recipient, cc), row["country"]))
    return _Plan(joins, lost, failing)


async def tell_other_routes(
    conn: asyncpg.Connection,
    settings: Settings,
    primary: dict[int, str | None],
    *,
    kind: str = "notice",
    positions: set[int] | None = None,
) -> None:
    """A host served from several networks (or an origin a CDN named): each other route's
    best working desk gets its own notice about the case (the batch of its best contact), as
    the first route's does. `primary`: each case's first recipient, who is not told twice;
    `positions`: only these routes (default every one)."""
    async with conn.transaction():  # the notices stay locked until their items are in
        joins = await _other_route_joins(conn, primary, positions)
        if joins:
            batches = await _open_batches(conn, settings, kind, joins)
            await _add_items(conn, settings, batches, joins, primary=[])


async def _other_route_joins(
    conn: asyncpg.Connection, primary: dict[int, str | None], positions: set[int] | None = None
) -> list[_Join]:
    """The batches the other routes' desks of the cases (`primary`: each case's first
    recipient, not told twice) are to join: one per case and route, routes in order."""
    if not primary:
        return []
    rows = await notify_repo.address_routes(conn, sorted(primary))
    rows = [r for r in rows if positions is None or r["position"] in positions]
    if not rows:
        return []
    contacts = {(r["case_id"], r["position"]): _contacts(r | {"registrar": None}) for r in rows}
    known = sorted({a for c in contacts.values() for a in c.addresses})
    failing = await notify_repo.failing_among(conn, known)
    joins = []
    for row in rows:  # ordered by case and position
        recipient = contacts[(row["case_id"], row["position"])].choose(failing)
        if recipient is not None and recipient.address != primary[row["case_id"]]:
            joins.append(_Join(row["case_id"], _Choice(recipient, ()), row["country"]))
    return joins


@dataclass(frozen=True)
class _Contacts:
    """A case's usable contacts: ranked recipients, then the registrar's abuse desk; and the
    copies every notice goes to as well."""

    ranked: list[Recipient]
    registrar: Recipient | None
    copies: list[Recipient]

    @property
    def addresses(self) -> list[str]:
        extra = [self.registrar.address] if self.registrar else []
        return [r.address for r in self.ranked] + extra

    @property
    def copy_addresses(self) -> list[str]:
        return [r.address for r in self.copies]

    def choose(self, failing: set[str]) -> Recipient | None:
        return choose_recipient(self.ranked, self.registrar, failing)


@dataclass(frozen=True)
class _Choice:
    """The main recipient of a case's notice and who is copied."""

    recipient: Recipient
    cc: tuple[str, ...]

    @property
    def key(self) -> notify_repo.BatchKey:
        return (self.recipient.address, self.cc)


def _contacts(case: dict[str, Any]) -> _Contacts:
    # The upstream provider's desk is the escalation ladder's to write to, never a notice's
    # recipient or fallback: the hosting network is told first.
    usable = [r for r in parse_recipients(case["recipients"] or []) if r.role != UPSTREAM_ROLE]
    ranked, copies = split_copies(usable)
    return _Contacts(ranked, registrar_recipient(case["registrar"]), copies)


async def _no_contact(
    conn: asyncpg.Connection, case: dict[str, Any], contacts: _Contacts, failing: set[str]
) -> Placement:
    addresses = contacts.addresses
    reason = "no working contact" if addresses else "no contact known"
    ours = failing & set(addresses)
    await to_hotline_queue(conn, case["id"], CaseState(case["state"]), reason, ours)
    return Placement(None, None, None, reason)


async def _open_batches(
    conn: asyncpg.Connection, settings: Settings, kind: str, joins: list[_Join]
) -> dict[notify_repo.BatchKey, tuple[int, datetime]]:
    """The open batch (per recipient and Cc) of every join, created if needed and locked
    (in id order, before any case): {key: (notice id, created_at)}."""
    first: dict[notify_repo.BatchKey, dict[str, Any]] = {}
    for join in sorted(joins, key=lambda j: j.case_id):  # a batch's first item decides its
        choice = join.choice  # language and country
        first.setdefault(
            choice.key,
            {
                "recipient": choice.recipient.address,
                "cc": choice.cc,
                "role": choice.recipient.role,
                "language": choose_language(choice.recipient.language, join.country),
                "country": join.country,
            },
        )
    return await notify_repo.open_batches(conn, list(first.values()), kind, settings.mail_from)


async def _add_items(
    conn: asyncpg.Connection,
    settings: Settings,
    batches: dict[notify_repo.BatchKey, tuple[int, datetime]],
    joins: list[_Join],
    *,
    primary: list[_Join],
) -> dict[int, Placement]:
    """Cases into their (locked) batches; each batch's job due when the batch is (the window
    after its earliest item became ready). Returns where the `primary` joins among `joins`
    went."""
    pairs = sorted({(batches[j.choice.key][0], j.case_id) for j in joins})
    due = await notify_repo.add_items(conn, pairs, settings.notice_gather_window)
    await jobs.enqueue_for_refs(conn, "notify", due)
    placing = {j.case_id for j in joins}
    return {
        j.case_id: Placement(
            batches[j.choice.key][0],
            j.choice.recipient.address,
            due[batches[j.choice.key][0]],
            cc=j.choice.cc,
        )
        for j in primary
        if j.case_id in placing
    }


async def to_hotline_queue(
    conn: asyncpg.Connection, case_id: int, state: CaseState, reason: str, failing: set[str]
) -> None:
    """Nobody left to notify: the hotline handles the case (unresolved when still possible)."""
    detail = {"reason": reason, "failing_contacts": sorted(failing)}
    if state is CaseState.RESOLVED:
        await cases.transition(
            conn,
            case_id,
            CaseState.UNRESOLVED,
            actor=ACTOR,
            kind="no_contact",
            detail=detail,
            expect=CaseState.RESOLVED,
        )
    else:
        await cases.add_event(conn, case_id, actor=ACTOR, kind="hotline_queue", detail=detail)


async def reroute(
    conn: asyncpg.Connection, settings: Settings, notice: dict[str, Any], reason: str
) -> list[Placement]:
    """Move the items of a notice whose recipient failed to their next contacts (a desk of
    another route of the case: that route's next contact, not the first route's again).

    The new notices are joined first and the cases' events written after (notices before
    cases)."""
    case_ids = await notify_repo.item_case_ids(conn, notice["id"])
    routes = await _routes_of_recipient(conn, case_ids, notice["recipient"])
    by_position: dict[int, dict[int, str | None]] = {}
    for case_id, position in routes.items():
        by_position.setdefault(position, {})[case_id] = None
    for position, cases_of_route in sorted(by_position.items()):
        await tell_other_routes(
            conn, settings, cases_of_route, kind=notice["kind"], positions={position}
        )
    first_route = [c for c in case_ids if c not in routes]
    placed = await place_cases(conn, settings, first_route, kind=notice["kind"], states=REROUTABLE)
    detail = {"notice_id": notice["id"], "recipient": notice["recipient"], "reason": reason[:500]}
    for case_id in case_ids:
        await cases.add_event(conn, case_id, actor=ACTOR, kind="contact_failed", detail=detail)
    return [placed[c] for c in first_route if c in placed]


async def _routes_of_recipient(
    conn: asyncpg.Connection, case_ids: list[int], address: str
) -> dict[int, int]:
    """Per case, the other route (position) whose desk `address` is."""
    found: dict[int, int] = {}
    for row in await notify_repo.address_routes(conn, case_ids):
        addresses = {r.address for r in parse_recipients(row["recipients"] or [])}
        if address in addresses:
            found.setdefault(row["case_id"], row["position"])
    return found
