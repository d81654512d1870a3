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
    refused the report: e-mail is the fallback)."""
    async with conn.transaction():
        rows = await notify_repo.cases_for_outbox_many(conn, case_ids, kind)
        wanted = [r for r in rows if CaseState(r["state"]) in states and not r["in_flight"]]
        if kind == "notice" and not email_only:
            wanted, by_api = _by_cdn_api(wanted, settings)
            await jobs.enqueue_for_cases(conn, CDN_JOB, [r["id"] for r in by_api])
        if not wanted:
            return {}
        contacts = {r["id"]: _contacts(r) for r in wanted}
        known = sorted({a for c in contacts.values() for a in [*c.addresses, *c.copy_addresses]})
        failing = await notify_repo.failing_among(conn, known)
        placed: dict[int, Placement] = {}
        chosen: dict[int, _Choice] = {}
        for row in wanted:
            recipient = contacts[row["id"]].choose(failing)
            if recipient is None:
                placed[row["id"]] = await _no_contact(conn, row, contacts[row["id"]], failing)
            else:
                cc = copy_addresses(contacts[row["id"]].copies, recipient.address, failing)
                chosen[row["id"]] = _Choice(recipient, cc)
        if chosen:
            by_id = {r["id"]: r for r in wanted}
            placed |= await _join_batches(conn, settings, kind, chosen, by_id)
            await _tell_other_networks(conn, settings, kind, chosen)
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


async def _tell_other_networks(
    conn: asyncpg.Connection, settings: Settings, kind: str, chosen: dict[int, _Choice]
) -> None:
    primary: dict[int, str | None] = {c: choice.recipient.address for c, choice in chosen.items()}
    await tell_other_routes(conn, settings, primary, kind=kind)


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
    rows = await notify_repo.address_routes(conn, sorted(primary))
    rows = [r for r in rows if positions is None or r["position"] in positions]
    if not rows:
        return
    contacts = {(r["case_id"], r["position"]): _contacts(r | {"registrar": None}) for r in rows}
    known = sorted({a for c in contacts.values() for a in c.addresses})
    failing = await notify_repo.failing_among(conn, known)
    countries = {(r["case_id"], r["position"]): r["country"] for r in rows}
    rounds: dict[int, dict[int, _Choice]] = {}
    for (case_id, position), mine in contacts.items():
        recipient = mine.choose(failing)
        if recipient is not None and recipient.address != primary[case_id]:
            rounds.setdefault(position, {})[case_id] = _Choice(recipient, ())
    for position, round_ in sorted(rounds.items()):
        where = {case_id: {"country": countries[(case_id, position)]} for case_id in round_}
        await _join_batches(conn, settings, kind, round_, where)


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


async def _join_batches(
    conn: asyncpg.Connection,
    settings: Settings,
    kind: str,
    chosen: dict[int, _Choice],
    cases: dict[int, dict[str, Any]],
) -> dict[int, Placement]:
    """Cases into their open batches (per recipient and Cc); each batch's job due after the
    window."""
    first: dict[notify_repo.BatchKey, dict[str, Any]] = {}
    for case_id in sorted(chosen):  # a batch's first item decides its language and country
        choice, country = chosen[case_id], cases[case_id]["country"]
        first.setdefault(
            choice.key,
            {
                "recipient": choice.recipient.address,
                "cc": choice.cc,
                "role": choice.recipient.role,
                "language": choose_language(choice.recipient.language, country),
                "country": country,
            },
        )
    batches = await notify_repo.open_batches(conn, list(first.values()), kind, settings.mail_from)
    await notify_repo.add_items(
        conn, [(batches[c.key][0], case_id) for case_id, c in sorted(chosen.items())]
    )
    for notice_id, created_at in sorted(batches.values()):
        due_at = created_at + settings.notice_gather_window
        await jobs.enqueue_for_ref(conn, "notify", notice_id, run_at=due_at)
    return {
        case_id: Placement(
            batches[c.key][0],
            c.recipient.address,
            batches[c.key][1] + settings.notice_gather_window,
            cc=c.cc,
        )
        for case_id, c in chosen.items()
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
    another route of the case: that route's next contact, not the first route's again)."""
    placements = []
    case_ids = await notify_repo.item_case_ids(conn, notice["id"])
    routes = await _routes_of_recipient(conn, case_ids, notice["recipient"])
    for case_id in case_ids:
        await cases.add_event(
            conn,
            case_id,
            actor=ACTOR,
            kind="contact_failed",
            detail={
                "notice_id": notice["id"],
                "recipient": notice["recipient"],
                "reason": reason[:500],
            },
        )
        if case_id in routes:
            positions = {routes[case_id]}
            await tell_other_routes(
                conn, settings, {case_id: None}, kind=notice["kind"], positions=positions
            )
            continue
        placed = await place_case(conn, settings, case_id, kind=notice["kind"], states=REROUTABLE)
        if placed is not None:
            placements.append(placed)
    return placements


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
