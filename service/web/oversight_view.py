"""Rendering helpers of the /oversight/ pages: templates, value formatting, tables, paging."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from service.domain.escalation import LadderError
from service.packaged import Templates
from service.usecases import oversee
from service.usecases.oversee import QUEUES, SORTS, QueueFilter, QueuePage
from service.web.charts import human
from service.web.keys import POLICIES, POOL, SETTINGS
from service.web.problems import HttpProblem
from service.web.session import Analyst

QUEUE_TITLES = {
    "overdue": "Overdue",
    "unresolved": "No contact",
    "bounced": "Bounced",
    "not_ours": "“Not ours”",
    "disputes": "Disputes",
    "reappeared": "Reappeared",
    "held": "Held",
    "replies": "Replies",
}
QUEUE_COLUMNS = [
    ("id", "Case"),
    ("url", "URL"),
    ("hoster", "Hoster"),
    ("asn", "ASN"),
    ("country", "Country"),
    ("state", "State"),
    ("first_notice_at", "First notice"),
    ("deadline", "Deadline"),
    ("why", "Why here"),
]
# What the "why here" column says per queue (the row's own explanation).
QUEUE_REASON = {
    "overdue": "deadline",
    "unresolved": "no_contact_reason",
    "bounced": "bounce",
    "not_ours": "not_ours",
    "disputes": "dispute",
    "reappeared": "reappeared_at",
    "held": "hold_reason",
    "replies": "reply",
}


def fmt(value: Any) -> str:
    """How a value reads in a table cell."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, timedelta):
        return human(value)
    if isinstance(value, float):
        return f"{value:.0%}" if 0 <= value <= 1 else f"{value:.1f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@cache
def environment(where: Templates) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=where.loader(),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    env.globals["queue_titles"] = QUEUE_TITLES
    return env


def render(
    request: web.Request, template: str, analyst: Analyst | None, status: int = 200, **values: Any
) -> web.Response:
    base = {"analyst": analyst, "csrf": analyst.csrf if analyst else "", "path": request.path}
    html = (
        environment(Templates.of(request.app[SETTINGS]))
        .get_template(f"pages/oversight/{template}")
        .render(base | values)
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    response.headers["Cache-Control"] = "no-store"  # analyst pages are never cached
    return response


def queue_rows(name: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row | {"why": _why(name, row)} for row in rows]


def _why(name: str, row: dict[str, Any]) -> Any:
    """The row's own explanation; for overdue items, how long past the deadline."""
    reason = row.get(QUEUE_REASON[name])
    if name == "overdue" and isinstance(reason, datetime):
        return f"{human(datetime.now(UTC) - reason)} past the deadline"
    return reason


def clean(text: str, limit: int = 2000) -> str:
    """User text made safe for PostgreSQL text and jsonb (no NUL), trimmed and bounded."""
    return text.replace("\x00", "").strip()[:limit]


def filters_from(query: Mapping[str, str]) -> QueueFilter:
    def text(key: str, limit: int = 300) -> str | None:
        return clean(query.get(key) or "", limit) or None

    asn = text("asn", 12)
    return QueueFilter(
        hoster=text("hoster"),
        country=text("country", 2),
        asn=int(asn) if asn and asn.isdigit() else None,
        state=text("state", 20),
        search=text("q"),
    )


def sort_from(query: Mapping[str, str]) -> tuple[str, bool]:
    sort = query.get("sort", "deadline")
    return (sort if sort in SORTS else "deadline"), query.get("dir") == "desc"


def encode_cursor(cursor: tuple[str, int] | None) -> str | None:
    if cursor is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(list(cursor)).encode()).decode()


def decode_cursor(raw: str | None) -> tuple[str, int] | None:
    if not raw:
        return None
    try:
        value, case_id = json.loads(base64.urlsafe_b64decode(raw.encode()))
        if not 0 < int(case_id) < 2**63:
            raise ValueError("case id out of range")
        return clean(str(value), 100), int(case_id)
    except (ValueError, TypeError) as exc:
        raise web.HTTPBadRequest(text="malformed paging cursor") from exc


def page_link(path: str, query: Mapping[str, str], **changes: str | None) -> str:
    merged = {k: v for k, v in query.items() if k not in changes}
    merged.update({k: v for k, v in changes.items() if v})
    return f"{path}?{urlencode(merged)}" if merged else path


def valid_queue(name: str) -> str:
    if name not in QUEUES:
        raise web.HTTPNotFound(text="no such queue")
    return name


# How the refusals of an analyst action read over HTTP (the pages and the API share this).
REFUSALS: tuple[tuple[type[Exception], int, str, str], ...] = (
    (LadderError, 409, "Action does not apply", "ladder"),
    (oversee.ActionForbidden, 403, "Forbidden", "forbidden"),
    (oversee.ActionInvalid, 422, "Invalid input", "invalid"),
    (oversee.UnknownAction, 400, "Unknown action", "action"),
    (oversee.ActionRefused, 409, "Action does not apply", "refused"),
)


async def act(request: web.Request, conn: Any, action: oversee.CaseAction) -> Mapping[str, Any]:
    """One analyst action on a case (oversee.act_on_case); a refusal as a problem answer."""
    try:
        return await oversee.act_on_case(
            conn, action, request.app[SETTINGS], request.app[POLICIES], datetime.now(UTC)
        )
    except (LadderError, oversee.ActionRefused) as exc:
        status, title, slug = next((s, t, g) for k, s, t, g in REFUSALS if isinstance(exc, k))
        raise HttpProblem(status, title, str(exc), slug=slug) from exc


async def queue_page_of(
    request: web.Request, name: str, *, after: tuple[str, int] | None, limit: int
) -> QueuePage:
    """One keyset page of queue `name` with the request's filters and sort (the page, its CSV
    export and the API read queues the same way)."""
    sort, descending = sort_from(request.query)
    return await oversee.queue_page(
        request.app[POOL],
        name,
        request.app[POLICIES].sla,
        filters_from(request.query),
        sort=sort,
        descending=descending,
        after=after,
        limit=limit,
    )
