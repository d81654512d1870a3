"""The oversight JSON API under /api/v1/oversight/ (hotline token): queues, statistics,
content movement, case actions and holds — the same as the pages, for other tools."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from service.errors import NotFound
from service.usecases import mail, oversee, statistics, withdraw
from service.web.auth import SUPERVISOR, require_role
from service.web.bodies import parse_body
from service.web.jsonout import jsonable
from service.web.keys import POOL, SETTINGS
from service.web.openapi import Operation, operation
from service.web.oversight_stats import DIMENSIONS, load_hoster, load_stats
from service.web.oversight_view import (
    QUEUE_REASON,
    act,
    clean,
    decode_cursor,
    encode_cursor,
    queue_page_of,
    queue_rows,
    valid_queue,
)
from service.web.problems import HttpProblem

routes = web.RouteTableDef()
ActionName = Literal[
    "pause",
    "resume",
    "skip",
    "trigger",
    "review_not_ours",
    "review_dispute",
    "review_replies",
    "confirm_dispute",
    "reject_dispute",
    "hold",
    "re_resolve",
    "route",
]


class QueueItem(BaseModel):
    id: int
    url: str
    hoster: str | None
    asn: int | None
    country: str | None
    state: str
    first_notice_at: datetime | None
    deadline: datetime | None
    why: Any = None


class QueuePage(BaseModel):
    queue: str
    items: list[QueueItem]
    next_after: str | None = Field(description="pass as ?after= for the next page")


class GroupStats(BaseModel):
    group: str
    items: int
    open: int
    removed: int
    median_seconds: float | None
    p90_seconds: float | None
    within_24h: float
    within_72h: float
    open_beyond_42d: float
    recidivism: float
    contact_failures: float


class HosterRemovalReasons(BaseModel):
    hoster: str
    reasons: dict[str, int] = Field(
        description="confirmed removals by what the confirming check saw: http_gone, dns_gone,"
        " placeholder, redirected_away, other_content (unknown: before reasons were kept)"
    )


class StatsOut(BaseModel):
    by: Literal["hoster", "asn", "country"]
    groups: list[GroupStats] = Field(
        description="one page: the `limit` groups with the most notified items on page 1, …"
    )
    page: int = 1
    limit: int = 100
    groups_total: int = Field(0, description="groups with notified items, on all pages")
    removals_by_reason: list[HosterRemovalReasons] = Field(
        default_factory=list, description="per hoster, whatever `by` is"
    )


class ContactHealth(BaseModel):
    address: str
    notices: int | None = Field(default=None, description="notices about this hoster's items")
    delivered: int
    bounced: int
    acknowledged: int
    failing: bool
    median_removal_seconds: float | None = Field(
        description="median from first notice to removal of the items sent to this address"
    )
    last_error: str | None = None


class HosterOut(BaseModel):
    hoster: str
    scorecard: GroupStats | None
    contacts: list[ContactHealth]


class ContactsOut(BaseModel):
    contacts: list[ContactHealth]


class CaseAction(BaseModel):
    action: ActionName
    note: str = Field(default="", max_length=500)
    address: str | None = Field(
        default=None, max_length=254, description="the recipient, for action 'route'"
    )


class HoldIn(BaseModel):
    """Exactly one of case_id, hoster, domain."""

    case_id: int | None = Field(default=None, ge=1, lt=2**63)
    hoster: str | None = Field(default=None, min_length=1, max_length=300, pattern=r"^[^\x00]+$")
    domain: str | None = Field(default=None, max_length=253, pattern=r"^[A-Za-z0-9.-]+$")
    reason: str = Field(min_length=1, max_length=2000, pattern=r"^[^\x00]+$")


class WithdrawalIn(BaseModel):
    """A hash to withdraw (`sha256:<hex>`, also sha1, md5, pdq) and why."""

    hash: str = Field(min_length=5, max_length=80, examples=["sha256:" + "0" * 64])
    reason: str = Field(min_length=1, max_length=2000, pattern=r"^[^\x00]+$")


class ActionResult(BaseModel):
    result: dict[str, Any]


class AttachIn(BaseModel):
    """The case an unmatched mail is about."""

    case_id: int = Field(gt=0, lt=2**63)


class DismissIn(BaseModel):
    """Why an unmatched mail concerns no case (optional)."""

    note: str = Field(default="", max_length=500, pattern=r"^[^\x00]*$")


_QUERY = tuple(
    {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
    for n in ("hoster", "country", "asn", "state", "q", "sort", "dir", "after", "limit")
)


def _path(name: str, kind: str = "integer", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind, **schema}}


_QUEUE = _path("queue", "string", enum=list(QUEUE_REASON))
_BY = {"name": "by", "in": "query", "schema": {"enum": ["hoster", "asn", "country"]}}
_HOTLINE = ("hotline",)
OPERATIONS = [
    Operation(
        "get",
        "/api/v1/oversight/queues/{queue}",
        "An analyst queue, keyset-paged",
        _HOTLINE,
        responses={200: QueuePage, 404: None},
        parameters=(_QUEUE, *_QUERY),
    ),
    Operation(
        "get",
        "/api/v1/oversight/stats",
        "Time-to-removal scorecards (Kaplan–Meier)",
        _HOTLINE,
        responses={200: StatsOut},
        parameters=(
            _BY,
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 1000}},
        ),
    ),
    Operation(
        "get",
        "/api/v1/oversight/hosters/{name}",
        "A hoster's scorecard and the health of the addresses notified about it",
        _HOTLINE,
        responses={200: HosterOut},
        parameters=(_path("name", "string", minLength=1, maxLength=300),),
    ),
    Operation(
        "get",
        "/api/v1/oversight/contacts",
        "Contact health per address: delivered, bounced, acknowledged, median to removal",
        _HOTLINE,
        responses={200: ContactsOut},
        parameters=({"name": "limit", "in": "query", "schema": {"type": "string"}},),
    ),
    Operation(
        "post",
        "/api/v1/oversight/cases/{case_id}/actions",
        "Pause, resume, skip or trigger the ladder; review answers; confirm a dispute (the case"
        " is withdrawn) or reject it; hold (supervisor token); resolve again; route to an"
        " address",
        _HOTLINE,
        request=CaseAction,
        responses={200: ActionResult, 404: None, 409: None},
        parameters=(_path("case_id"),),
    ),
    Operation(
        "get", "/api/v1/oversight/holds", "Law-enforcement holds", _HOTLINE, responses={200: None}
    ),
    Operation(
        "post",
        "/api/v1/oversight/holds",
        "Place a hold (case, hoster or domain)",
        (SUPERVISOR,),
        request=HoldIn,
        responses={201: ActionResult, 422: None},
    ),
    Operation(
        "post",
        "/api/v1/oversight/holds/{hold_id}/lift",
        "Lift a hold",
        (SUPERVISOR,),
        responses={200: ActionResult, 404: None},
        parameters=(_path("hold_id"),),
    ),
    Operation(
        "get",
        "/api/v1/oversight/withdrawals",
        "Withdrawn hashes, newest first",
        _HOTLINE,
        responses={200: None},
    ),
    Operation(
        "post",
        "/api/v1/oversight/withdrawals",
        "Withdraw a hash: its open cases stop, notified parties get a withdrawal notice, later"
        " reports of it are rejected with the reason",
        (SUPERVISOR,),
        request=WithdrawalIn,
        responses={201: ActionResult, 422: None},
    ),
    Operation(
        "get",
        "/api/v1/oversight/mail/unmatched",
        "Replies and auto-replies that matched no notice, waiting for an analyst, newest first",
        _HOTLINE,
        responses={200: None},
        parameters=({"name": "limit", "in": "query", "schema": {"type": "string"}},),
    ),
    Operation(
        "post",
        "/api/v1/oversight/mail/{mail_id}/attach",
        "Attach an unmatched mail to the case it is about (a reply then waits in the replies"
        " queue)",
        _HOTLINE,
        request=AttachIn,
        responses={200: ActionResult, 404: None, 409: None},
        parameters=(_path("mail_id"),),
    ),
    Operation(
        "post",
        "/api/v1/oversight/mail/{mail_id}/dismiss",
        "Dismiss an unmatched mail that concerns no case",
        _HOTLINE,
        request=DismissIn,
        responses={200: ActionResult, 409: None},
        parameters=(_path("mail_id"),),
    ),
    Operation(
        "get",
        "/api/v1/oversight/content/{digest}",
        "Where a piece of content was seen",
        _HOTLINE,
        responses={200: None},
        parameters=(_path("digest", "string"),),
    ),
]
for _op in OPERATIONS:
    operation(_op)


@routes.get("/api/v1/oversight/queues/{queue}")
async def api_queue(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    name = valid_queue(request.match_info["queue"])
    limit = _limit(request.query.get("limit", "100"))
    page = await queue_page_of(
        request, name, after=decode_cursor(request.query.get("after")), limit=limit
    )
    items = [QueueItem(**row) for row in queue_rows(name, page.rows)]
    body = QueuePage(queue=name, items=items, next_after=encode_cursor(page.next_after))
    return web.json_response(jsonable(body.model_dump()))


@routes.get("/api/v1/oversight/stats")
async def api_stats(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    by = request.query.get("by", "hoster")
    if by not in DIMENSIONS:
        raise HttpProblem(400, "Unknown grouping", "by must be hoster, asn or country", slug="by")
    limit = _limit(request.query.get("limit", "100"))
    page = _page(request.query.get("page", "1"))
    stats = await load_stats(request.app[POOL], by, limit, page)
    groups = [GroupStats(**_seconds(card)) for card in stats["cards"]]
    reasons = [
        HosterRemovalReasons(
            hoster=r["hoster"], reasons={k: v for k, v in r.items() if k != "hoster" and v}
        )
        for r in stats["reasons"]
    ]
    body = StatsOut(
        by=by,  # type: ignore[arg-type]
        groups=groups,
        page=page,
        limit=limit,
        groups_total=stats["groups_total"],
        removals_by_reason=reasons,
    )
    return web.json_response(jsonable(body.model_dump()))


@routes.get("/api/v1/oversight/hosters/{name}")
async def api_hoster(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    name = clean(request.match_info["name"], 300)
    hoster = await load_hoster(request.app[POOL], name)
    card = hoster["card"]
    body = HosterOut(
        hoster=name,
        scorecard=GroupStats(**_seconds(card)) if card else None,
        contacts=[ContactHealth(**c) for c in hoster["contacts"]],
    )
    return web.json_response(jsonable(body.model_dump()))


@routes.get("/api/v1/oversight/contacts")
async def api_contacts(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    limit = _limit(request.query.get("limit", "1000"))
    rows = await statistics.contact_health(request.app[POOL], limit)
    body = ContactsOut(contacts=[ContactHealth(**row) for row in rows])
    return web.json_response(jsonable(body.model_dump()))


def _seconds(card: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in card.items() if k not in ("median", "p90")}
    for key in ("median", "p90"):
        out[f"{key}_seconds"] = card[key].total_seconds() if card[key] is not None else None
    return out


@routes.post("/api/v1/oversight/cases/{case_id}/actions")
async def api_action(request: web.Request) -> web.Response:
    token = await require_role(request, "hotline")
    body = await _body(request, CaseAction)
    case_id = _int(request.match_info["case_id"])
    async with request.app[POOL].acquire() as conn:
        if await oversee.case_overview(conn, case_id) is None:
            raise HttpProblem(404, "Not found", "no such case", slug="not-found")
        result = await act(
            request,
            conn,
            oversee.CaseAction(
                case_id,
                body.action,
                f"hotline:{token.name}",
                clean(body.note, 500),
                supervisor=token.role == SUPERVISOR,
                address=body.address,
            ),
        )
    return web.json_response(jsonable({"result": result}))


@routes.get("/api/v1/oversight/holds")
async def api_holds(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    return web.json_response(jsonable({"holds": await oversee.holds(request.app[POOL])}))


@routes.post("/api/v1/oversight/holds")
async def api_add_hold(request: web.Request) -> web.Response:
    token = await require_role(request, SUPERVISOR)
    body = await _body(request, HoldIn)
    scopes = {
        k: v
        for k, v in (
            ("case_id", body.case_id),
            ("hoster", body.hoster),
            ("domain", body.domain.lower() if body.domain else None),
        )
        if v
    }
    if len(scopes) != 1:
        raise HttpProblem(
            422, "Invalid hold", "give exactly one of case_id, hoster, domain", slug="invalid"
        )
    async with request.app[POOL].acquire() as conn:
        hold = await oversee.place_hold(
            conn, actor=f"hotline:{token.name}", reason=body.reason, **scopes
        )
    return web.json_response(jsonable({"result": hold}), status=201)


@routes.post("/api/v1/oversight/holds/{hold_id}/lift")
async def api_lift_hold(request: web.Request) -> web.Response:
    token = await require_role(request, SUPERVISOR)
    async with request.app[POOL].acquire() as conn:
        lifted = await oversee.lift_hold(
            conn, _int(request.match_info["hold_id"]), actor=f"hotline:{token.name}"
        )
    if lifted is None:
        raise HttpProblem(404, "Not found", "no such active hold", slug="not-found")
    return web.json_response(jsonable({"result": lifted}))


@routes.get("/api/v1/oversight/withdrawals")
async def api_withdrawals(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    hashes = await withdraw.withdrawn_hashes(request.app[POOL])
    return web.json_response(jsonable({"withdrawals": hashes}))


@routes.post("/api/v1/oversight/withdrawals")
async def api_withdraw(request: web.Request) -> web.Response:
    token = await require_role(request, SUPERVISOR)
    body = await _body(request, WithdrawalIn)
    try:
        done = await withdraw.withdraw_hash(
            request.app[POOL],
            request.app[SETTINGS],
            body.hash,
            reason=body.reason,
            actor=f"hotline:{token.name}",
        )
    except ValueError as exc:  # InvalidHashSpec included
        raise HttpProblem(422, "Invalid withdrawal", str(exc), slug="invalid") from exc
    return web.json_response(jsonable({"result": done}), status=201)


@routes.get("/api/v1/oversight/mail/unmatched")
async def api_unmatched_mail(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    limit = _limit(request.query.get("limit", "100"))
    mails = await mail.unmatched_mail(request.app[POOL], limit)
    return web.json_response(jsonable({"mail": mails}))


@routes.post("/api/v1/oversight/mail/{mail_id}/attach")
async def api_attach_mail(request: web.Request) -> web.Response:
    token = await require_role(request, "hotline")
    body = await _body(request, AttachIn)
    mail_id, actor = _int(request.match_info["mail_id"]), f"hotline:{token.name}"
    try:
        done = await mail.attach_mail(request.app[POOL], mail_id, body.case_id, actor=actor)
    except NotFound as exc:
        raise HttpProblem(404, "Not found", str(exc), slug="not-found") from exc
    except mail.MailNotWaiting as exc:
        raise HttpProblem(409, "Not waiting", str(exc), slug="mail-not-waiting") from exc
    return web.json_response(jsonable({"result": done}))


@routes.post("/api/v1/oversight/mail/{mail_id}/dismiss")
async def api_dismiss_mail(request: web.Request) -> web.Response:
    token = await require_role(request, "hotline")
    body = await _body(request, DismissIn)
    mail_id, actor = _int(request.match_info["mail_id"]), f"hotline:{token.name}"
    try:
        done = await mail.dismiss_mail(
            request.app[POOL], mail_id, actor=actor, note=clean(body.note, 500)
        )
    except mail.MailNotWaiting as exc:
        raise HttpProblem(409, "Not waiting", str(exc), slug="mail-not-waiting") from exc
    return web.json_response(jsonable({"result": done}))


@routes.get("/api/v1/oversight/content/{digest}")
async def api_content(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    pool = request.app[POOL]
    digest = request.match_info["digest"]
    valid = len(digest) <= 64 and all(ch in "0123456789abcdefABCDEF" for ch in digest)
    timeline = await statistics.content_timeline(pool, digest) if valid else []
    moves = await statistics.waterbed(pool)
    return web.json_response(jsonable({"timeline": timeline, "moves": moves}))


async def _body(request: web.Request, model: type[Any]) -> Any:
    return parse_body(model, await request.read())


def _limit(raw: str) -> int:
    """?limit= between 1 and 1000; anything else is the client's error, said as such."""
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 1000:
        raise HttpProblem(400, "Invalid limit", "limit must be 1 to 1000", slug="invalid-limit")
    return int(raw)


def _page(raw: str) -> int:
    """?page= from 1; anything else is the client's error."""
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) < 2**31:
        raise HttpProblem(400, "Invalid page", "page must be 1 or more", slug="invalid-page")
    return int(raw)


def _int(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**63:
        raise HttpProblem(404, "Not found", slug="not-found")
    return int(raw)
