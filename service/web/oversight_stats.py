"""Statistics, hoster and content-movement pages, and the holds page, under /oversight/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import asyncpg
from aiohttp import web

from service.domain.scorecard import (
    GroupHistogram,
    Scorecard,
    cards_of_histograms,
    curve_of_histogram,
    days_filled,
)
from service.domain.verdicts import Why
from service.usecases import mail, oversee, statistics
from service.usecases.verdicts import removals_by_reason
from service.web import charts, csvexport
from service.web.keys import POOL, SETTINGS
from service.web.oversight_view import clean, render
from service.web.session import check_csrf, require_analyst

routes = web.RouteTableDef()
DIMENSIONS = ("hoster", "asn", "country")
STATS_COLUMNS = [
    ("group", "Group"),
    ("items", "Items"),
    ("open", "Open"),
    ("removed", "Removed"),
    ("median", "Median to removal"),
    ("p90", "p90 to removal"),
    ("within_24h", "Removed ≤ 24 h"),
    ("within_72h", "Removed ≤ 72 h"),
    ("open_beyond_42d", "Open > 42 days"),
    ("recidivism", "Came back"),
    ("contact_failures", "Notices failed"),
]
CONTENT_COLUMNS = [
    ("id", "Case"),
    ("url", "URL"),
    ("hoster", "Hoster"),
    ("country", "Country"),
    ("state", "State"),
    ("detected_at", "Detected"),
    ("first_notice_at", "First notice"),
    ("first_gone_at", "Gone"),
    ("reappeared_at", "Reappeared"),
]
MOVES_COLUMNS = [
    ("from_hoster", "Removed from"),
    ("to_hoster", "Showed up at"),
    ("to_country", "Country"),
    ("moves", "Times"),
    ("median_lag", "Median delay"),
]
HOLD_COLUMNS = [
    ("id", "Hold"),
    ("case_id", "Case"),
    ("hoster", "Hoster"),
    ("domain", "Domain"),
    ("reason", "Reason"),
    ("created_by", "By"),
    ("created_at", "At"),
    ("lifted_by", "Lifted by"),
    ("lifted_at", "Lifted at"),
]
_HASH = re.compile(r"^[0-9a-fA-F]{32,64}$")


PAGE_SIZE = 100  # groups on one statistics page by default
MAX_PAGE_SIZE = 1000


async def load_stats(
    pool: asyncpg.Pool, by: str, limit: int = PAGE_SIZE, page: int = 1
) -> dict[str, Any]:
    """One page of scorecards (the `limit` groups with the most notified cases on page 1, the
    next ones on page 2 …; slowest first within the page), with contact health, and the chart
    data over every group.

    The database sends histograms (duration buckets per group, notices per group, removals
    per day), never one row per case: Kaplan–Meier is exact to the bucket width. Only the
    page's groups' histograms are computed, so the page costs the same with 50 hosters or
    50 000."""
    now = datetime.now(UTC)
    data = await statistics.stats_data(pool, by, now, limit, (page - 1) * limit)
    return {
        "cards": _cards(data.groups, data.notices),
        "curve": curve_of_histogram(data.overall),
        "per_day": days_filled(data.per_day),
        "reasons": reason_rows(await removals_by_reason(pool)),
        "groups_total": data.groups_total,
        "page": page,
        "limit": limit,
    }


def _cards(
    groups: list[GroupHistogram], notices: dict[str, tuple[int, int]]
) -> list[dict[str, Any]]:
    """Scorecard rows, slowest first, with the share of notices that failed or bounced."""
    failures = {
        g: failed / (sent + failed) for g, (sent, failed) in notices.items() if sent + failed
    }
    return [_card_row(card, failures.get(card.group, 0.0)) for card in cards_of_histograms(groups)]


async def stats_csv_chunks(pool: asyncpg.Pool, by: str) -> AsyncIterator[list[dict[str, Any]]]:
    """Every group's scorecard row, a few hundred groups at a time (the CSV export)."""
    now = datetime.now(UTC)
    async for groups, notices in statistics.group_pages(pool, by, now):
        yield _cards(groups, notices)


def page_of(query: Mapping[str, str]) -> tuple[int, int]:
    """?limit= (1 to 1000, default 100) and ?page= (from 1) of the statistics page; None when
    either is malformed."""
    raw_limit, raw_page = query.get("limit", str(PAGE_SIZE)), query.get("page", "1")
    for raw in (raw_limit, raw_page):
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
            raise ValueError(f"not a page number: {raw!r}")
    limit, page = int(raw_limit), int(raw_page)
    if not 1 <= limit <= MAX_PAGE_SIZE or page < 1:
        raise ValueError("limit must be 1 to 1000 and page at least 1")
    return limit, page


# Removals by what the confirming check saw (docs/verdicts.md); 'unknown': before reasons.
REASON_COLUMNS = (
    [("hoster", "Hoster")] + [(w.value, w.value) for w in Why] + [("unknown", "unknown")]
)


# Mail `takedown mail-in` gave up on (TAKEDOWN_MAIL_IN_MAX_ATTEMPTS): where to find it, why.
SET_ASIDE_COLUMNS = [
    ("set_aside_at", "Set aside"),
    ("channel", "Channel"),
    ("message_id", "Message-ID"),
    ("attempts", "Attempts"),
    ("error", "Error"),
    ("first_failed_at", "First failure"),
]


def reason_rows(by_hoster: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """One row per hoster with a count per reason (0 where none)."""
    keys = [key for key, _label in REASON_COLUMNS[1:]]
    return [
        {"hoster": hoster} | {key: reasons.get(key, 0) for key in keys}
        for hoster, reasons in sorted(by_hoster.items())
    ]


def _card_row(card: Scorecard, failures: float) -> dict[str, Any]:
    return {**card.__dict__, "contact_failures": failures}


@routes.get("/oversight/stats")
async def stats_page(request: web.Request) -> web.StreamResponse:
    analyst = await require_analyst(request)
    by = request.query.get("by", "hoster")
    by = by if by in DIMENSIONS else "hoster"
    if request.query.get("format") == "csv":
        chunks = stats_csv_chunks(request.app[POOL], by)
        return await csvexport.stream(request, f"stats-by-{by}", STATS_COLUMNS, chunks)
    try:
        limit, page = page_of(request.query)
    except ValueError as e:
        raise web.HTTPBadRequest(text=str(e)) from None
    stats = await load_stats(request.app[POOL], by, limit, page)
    slow = [(str(c["group"]), c["median"], c["items"]) for c in stats["cards"]]
    if by == "hoster":
        stats["cards"] = [
            c | {"link": f"/oversight/hosters/{quote(c['group'])}"} for c in stats["cards"]
        ]
    svgs = {
        "survival": charts.survival(stats["curve"], "Share still online after the first notice"),
        "per_day": charts.removals_per_day(stats["per_day"], "Removals per day"),
        "slow": charts.slow_hosters(slow, f"Slowest by {by}: median time to removal"),
    }
    pages = max(1, -(-stats["groups_total"] // limit))
    return render(
        request,
        "stats.html.j2",
        analyst,
        by=by,
        dimensions=DIMENSIONS,
        cards=stats["cards"],
        columns=STATS_COLUMNS,
        svgs=svgs,
        page=page,
        pages=pages,
        limit=limit,
        groups_total=stats["groups_total"],
        reasons=stats["reasons"],
        reason_columns=REASON_COLUMNS,
        set_aside=await mail.set_aside_mail(request.app[POOL]),
        set_aside_columns=SET_ASIDE_COLUMNS,
        quarantine=request.app[SETTINGS].imap_quarantine_folder,
    )


CONTACT_COLUMNS = [
    ("address", "Address"),
    ("notices", "Notices"),
    ("delivered", "Delivered"),
    ("bounced", "Bounced"),
    ("acknowledged", "Acknowledged"),
    ("median_removal", "Median to removal"),
    ("failing", "Failing"),
]


async def load_hoster(pool: asyncpg.Pool, name: str) -> dict[str, Any]:
    """A hoster's scorecard (None before its first notice) and its contacts' health."""
    found = await statistics.hoster_histogram(pool, name, datetime.now(UTC))
    card = None
    if found is not None:
        card = _cards([found], await statistics.group_notices(pool, "hoster"))[0]
    contacts = await statistics.hoster_contacts(pool, name)
    return {"card": card, "contacts": contacts}


@routes.get("/oversight/hosters/{name}")
async def hoster_page(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    name = request.match_info["name"]
    hoster = await load_hoster(request.app[POOL], name)
    contacts = [_with_median(c) for c in hoster["contacts"]]
    if request.query.get("format") == "csv":
        return csvexport.response(f"hoster-{name}-contacts", CONTACT_COLUMNS, contacts)
    return render(
        request,
        "hoster.html.j2",
        analyst,
        name=name,
        card=hoster["card"],
        stats_columns=STATS_COLUMNS,
        contacts=contacts,
        columns=CONTACT_COLUMNS,
    )


def _with_median(contact: dict[str, Any]) -> dict[str, Any]:
    seconds = contact["median_removal_seconds"]
    return contact | {"median_removal": timedelta(seconds=seconds) if seconds is not None else None}


@routes.get("/oversight/content")
async def content_page(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    digest = request.query.get("hash", "").strip()
    pool = request.app[POOL]
    timeline = await statistics.content_timeline(pool, digest) if _HASH.fullmatch(digest) else []
    moves = [_move(m) for m in await statistics.waterbed(pool)]
    if request.query.get("format") == "csv":
        table = request.query.get("table")
        if table == "moves":
            return csvexport.response("content-moves", MOVES_COLUMNS, moves)
        return csvexport.response("content-timeline", CONTENT_COLUMNS, timeline)
    return render(
        request,
        "content.html.j2",
        analyst,
        digest=digest,
        timeline=timeline,
        moves=moves,
        timeline_columns=CONTENT_COLUMNS,
        moves_columns=MOVES_COLUMNS,
    )


def _move(move: statistics.WaterbedMove) -> dict[str, Any]:
    """The move as the page shows it: its median lag as a duration."""
    row: dict[str, Any] = dict(move)
    seconds = row.pop("median_lag_seconds")
    return row | {"median_lag": timedelta(seconds=seconds) if seconds is not None else None}


@routes.get("/oversight/holds")
async def holds_page(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    holds = await oversee.holds(request.app[POOL])
    if request.query.get("format") == "csv":
        return csvexport.response("holds", HOLD_COLUMNS, holds)
    return render(request, "holds.html.j2", analyst, holds=holds, columns=HOLD_COLUMNS)


@routes.post("/oversight/holds")
async def add_hold(request: web.Request) -> web.Response:
    analyst = await require_analyst(request, supervisor=True, second_factor=True)
    form = await request.post()
    check_csrf(analyst, form)
    scope, value = str(form.get("scope", "")), clean(str(form.get("value", "")), 300)
    reason = clean(str(form.get("reason", "")))
    if scope not in ("case_id", "hoster", "domain") or not value or not reason:
        raise web.HTTPBadRequest(text="a hold needs a scope, a value and a reason")
    target: dict[str, Any] = {
        scope: int(value) if scope == "case_id" and value.isdigit() else value
    }
    if scope == "domain":
        target["domain"] = value.lower()
        if not re.fullmatch(r"[a-z0-9.-]+", target["domain"]):
            raise web.HTTPBadRequest(text="not a domain name")
    async with request.app[POOL].acquire() as conn:
        await oversee.place_hold(conn, actor=analyst.actor, reason=reason, **target)
    raise web.HTTPSeeOther("/oversight/holds")


@routes.post("/oversight/holds/{hold_id:\\d+}/lift")
async def lift_hold(request: web.Request) -> web.Response:
    analyst = await require_analyst(request, supervisor=True, second_factor=True)
    check_csrf(analyst, await request.post())
    async with request.app[POOL].acquire() as conn:
        await oversee.lift_hold(conn, int(request.match_info["hold_id"]), actor=analyst.actor)
    raise web.HTTPSeeOther("/oversight/holds")
