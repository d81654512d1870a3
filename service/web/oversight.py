"""The hotline's /oversight/ pages: login, queues, a case with its timeline, actions, holds.

Server-rendered (works without JavaScript). Every page needs an analyst session; every form
carries the session's CSRF token; every action is an event with the analyst's name.
Statistics, hoster and content pages are in oversight_stats; the JSON API in oversight_api.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from aiohttp import web

from service.usecases import oversee
from service.web import (
    account,
    csvexport,
    oversight_api,
    oversight_mail,
    oversight_stats,
    oversight_webhooks,
    oversight_withdrawals,
)
from service.web.clients import client_address
from service.web.keys import POLICIES, POOL, SETTINGS
from service.web.login_throttle import LOGIN_THROTTLE, LoginThrottle
from service.web.oversight_view import (
    QUEUE_COLUMNS,
    act,
    clean,
    decode_cursor,
    encode_cursor,
    page_link,
    queue_page_of,
    queue_rows,
    render,
    sort_from,
    valid_queue,
)
from service.web.session import (
    check_csrf,
    log_in,
    log_out,
    login_csrf,
    login_name,
    require_analyst,
    safe_next,
    set_login_cookie,
    set_session_cookie,
)

routes = web.RouteTableDef()
PAGE_SIZE = 50
CSV_CHUNK = 1000  # rows per query of a queue export: the memory it needs, whatever the total


def setup(app: web.Application) -> None:
    """Register the pages and the JSON API (one line in create_app)."""
    app[LOGIN_THROTTLE] = LoginThrottle(app[SETTINGS])
    app.add_routes(routes)
    app.add_routes(account.routes)
    app.add_routes(oversight_stats.routes)
    app.add_routes(oversight_api.routes)
    app.add_routes(oversight_webhooks.routes)
    app.add_routes(oversight_withdrawals.routes)
    app.add_routes(oversight_mail.routes)


@routes.get("/oversight/login")
async def login_form(request: web.Request) -> web.Response:
    token = login_csrf(request)
    next_path = safe_next(request.query.get("next"))
    response = render(request, "login.html.j2", None, login_csrf=token, next=next_path, error="")
    set_login_cookie(request, response, token)
    return response


@routes.post("/oversight/login")
async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    next_path = safe_next(str(form.get("next", "")))
    throttle, client = request.app[LOGIN_THROTTLE], client_address(request)
    username = login_name(form)
    if (wait := throttle.wait(client, username)) > 0:
        return _login_page(request, next_path, 429, "Too many failed attempts; retry later.", wait)
    session = await log_in(request, form)
    if session is None:
        throttle.failed(client, username)
        return _login_page(request, next_path, 401, "Unknown user, wrong password or code.")
    throttle.succeeded(client, username)
    response = web.HTTPSeeOther(next_path)
    set_session_cookie(request, response, session)
    raise response


def _login_page(
    request: web.Request, next_path: str, status: int, error: str, wait: float = 0
) -> web.Response:
    token = login_csrf(request)
    response = render(
        request, "login.html.j2", None, status, login_csrf=token, next=next_path, error=error
    )
    if wait:
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    set_login_cookie(request, response, token)
    return response


@routes.post("/oversight/logout")
async def logout(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    check_csrf(analyst, await request.post())
    response = web.HTTPSeeOther("/oversight/login")
    await log_out(request, response)
    raise response


@routes.get("/oversight/")
async def home(request: web.Request) -> web.Response:
    await require_analyst(request)
    raise web.HTTPSeeOther("/oversight/queues/overdue")


@routes.get("/oversight/queues/{name}")
async def queue_page(request: web.Request) -> web.StreamResponse:
    analyst = await require_analyst(request)
    name = valid_queue(request.match_info["name"])
    sort, descending = sort_from(request.query)
    if request.query.get("format") == "csv":
        return await csvexport.stream(
            request, f"queue-{name}", QUEUE_COLUMNS, _queue_chunks(request, name)
        )
    page = await queue_page_of(
        request, name, after=decode_cursor(request.query.get("after")), limit=PAGE_SIZE
    )
    rows = queue_rows(name, page.rows)
    cursor = encode_cursor(page.next_after)
    return render(
        request,
        "queue.html.j2",
        analyst,
        name=name,
        rows=rows,
        columns=QUEUE_COLUMNS,
        query=dict(request.query),
        sort=sort,
        descending=descending,
        next_link=page_link(request.path, request.query, after=cursor) if cursor else None,
        csv_link=page_link(request.path, request.query, format="csv", after=None),
    )


async def _queue_chunks(request: web.Request, name: str) -> AsyncIterator[list[dict[str, Any]]]:
    """The whole queue for a CSV export, CSV_CHUNK rows at a time by the pages' keyset
    cursor. A connection is held for one chunk only, so a slow download never pins the
    pool; a case whose sort value changes mid-export may appear in neither or both chunks."""
    after = decode_cursor(request.query.get("after"))
    while True:
        page = await queue_page_of(request, name, after=after, limit=CSV_CHUNK)
        yield queue_rows(name, page.rows)
        if page.next_after is None:
            return
        after = page.next_after


@routes.get("/oversight/cases/{case_id:\\d+}")
async def case_page(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    case_id = _case_id(request)
    record = await oversee.case_record(request.app[POOL], case_id)
    if record is None:
        raise web.HTTPNotFound(text="no such case")
    overview, timeline = record.overview, _timeline(record)
    answers, replies = record.answers, record.replies
    deadline = request.app[POLICIES].sla.deadline(
        overview["first_notice_at"], overview["country"], overview["hoster"]
    )
    steps = [s.value for s in request.app[POLICIES].ladder.steps]
    if request.query.get("format") == "csv":
        return csvexport.response(f"case-{case_id}", TIMELINE_COLUMNS, timeline)
    return render(
        request,
        "case.html.j2",
        analyst,
        case=overview,
        timeline=timeline,
        deadline=deadline,
        steps=steps,
        next_step=overview["next_step"] or 0,
        columns=TIMELINE_COLUMNS,
        answers=answers,
        answer_columns=ANSWER_COLUMNS,
        replies=replies,
    )


TIMELINE_COLUMNS = [("at", "When"), ("what", "What"), ("actor", "Who"), ("detail", "Detail")]
ANSWER_COLUMNS = [
    ("answered_at", "When"),
    ("recipient", "From"),
    ("answer", "Answer"),
    ("responsible", "Responsible instead"),
    ("dispute_reason", "Dispute"),
    ("note", "Note"),
    ("reviewed_at", "Reviewed"),
]


def _timeline(record: oversee.CaseRecord) -> list[dict[str, Any]]:
    """Events, notices, checks and hand-offs of a case, merged in time order."""
    events = record.events
    items = [_item(e["at"], _event_label(e), e["actor"], _short(e["detail"])) for e in events]
    for n in record.notices:
        what = f"{n['kind']} to {n['recipient']} ({n['state']})"
        items.append(_item(n["sent_at"] or n["created_at"], what, "notify", n["last_error"]))
    for c in record.checks:
        detail = f"{c['reason']} (HTTP {c['status'] or '-'})"
        seen = f" ({c['why']})" if c["why"] else ""  # what was seen instead of the content
        items.append(_item(c["at"], f"check: {c['verdict']}{seen}", "probe", detail))
    for h in record.handoffs:
        what = f"hand-off: {h['step']}"
        items.append(_item(h["created_at"], what, h["created_by"], _short(h["detail"])))
    return sorted(items, key=lambda item: item["at"])


def _item(at: datetime, what: str, actor: str, detail: str | None) -> dict[str, Any]:
    return {"at": at, "what": what, "actor": actor, "detail": detail or ""}


def _event_label(event: dict[str, Any]) -> str:
    if event.get("to_state"):
        return f"{event['kind']}: {event['from_state'] or '·'} → {event['to_state']}"
    return str(event["kind"])


def _short(detail: Any) -> str:
    if not isinstance(detail, dict):
        return str(detail or "")
    return ", ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, "", [], {}))[:400]


@routes.post("/oversight/cases/{case_id:\\d+}/actions")
async def case_action(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    form = await request.post()
    check_csrf(analyst, form)
    case_id, action = _case_id(request), str(form.get("action", ""))
    note = clean(str(form.get("note", "")), 500)
    async with request.app[POOL].acquire() as conn:
        if await oversee.case_overview(conn, case_id) is None:
            raise web.HTTPNotFound(text="no such case")
        await act(
            request,
            conn,
            oversee.CaseAction(
                case_id,
                action,
                analyst.actor,
                note,
                supervisor=analyst.may_hold,
                address=clean(str(form.get("address", "")), 254) or None,
            ),
        )
    raise web.HTTPSeeOther(f"/oversight/cases/{case_id}")


def _case_id(request: web.Request) -> int:
    raw = request.match_info["case_id"]
    if len(raw) > 18 or int(raw) == 0:
        raise web.HTTPNotFound(text="no such case")
    return int(raw)
