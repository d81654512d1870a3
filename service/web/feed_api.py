"""The scanner's outcome feed (GET /api/v1/cases), its taking a report back
(POST /api/v1/cases/{id}/withdraw) and the models of the scanner view."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, Field

from service.domain.outcomes import Outcome, ScannerState
from service.usecases import withdraw
from service.usecases.feed import BadCursor, feed_page
from service.web.auth import require_role
from service.web.bodies import parse_body
from service.web.keys import POOL, SETTINGS
from service.web.openapi import Operation, operation
from service.web.problems import HttpProblem, not_found

routes = web.RouteTableDef()

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class ScannerOutcome(BaseModel):
    outcome: Outcome
    at: datetime
    reason: str | None


class ScannerCaseOut(BaseModel):
    """A case as its scanner sees it: no events, actors, notes, hold reasons or hosters' text."""

    id: int
    url: str
    state: ScannerState
    media_type: str
    hashes: dict[str, str]
    source_ref: str
    detected_at: datetime
    received_at: datetime
    first_notice_at: datetime | None
    acknowledged_at: datetime | None
    first_gone_at: datetime | None
    removed_at: datetime | None
    reappeared_at: datetime | None
    outcomes: list[ScannerOutcome]


class FeedItemOut(BaseModel):
    """One outcome of one of the scanner's cases; `state` is the case's state after it."""

    id: str
    case_id: int
    url: str
    source_ref: str
    outcome: Outcome
    at: datetime
    state: ScannerState
    reason: str | None
    first_gone_at: datetime | None = Field(description="the case's, when the item is read")
    removed_at: datetime | None = Field(description="the case's, when the item is read")


class FeedOut(BaseModel):
    """A page of the feed; ask again with `since=next` (also when `items` is empty)."""

    items: list[FeedItemOut]
    next: str


operation(
    Operation(
        "get",
        "/api/v1/cases",
        "The outcomes of the scanner's own cases in the order they happened (keyset-paged)",
        roles=("scanner",),
        responses={200: FeedOut},
        parameters=(
            {
                "name": "since",
                "in": "query",
                "required": False,
                "description": "the `next` of the previous page; omitted: from the beginning",
                "schema": {"type": "string", "maxLength": 100},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT,
                },
            },
        ),
    )
)


class WithdrawReportIn(BaseModel):
    """Why the scanner takes its report back (kept on the case, never passed on)."""

    note: str = Field(default="", max_length=2000, pattern=r"^[^\x00]*$")


class WithdrawReportOut(BaseModel):
    case_id: int
    state: ScannerState
    withdrawn: bool = Field(description="false when the case was withdrawn before")


operation(
    Operation(
        "post",
        "/api/v1/cases/{case_id}/withdraw",
        "Take a report back (the match was wrong): the case is withdrawn, everyone told gets a"
        " withdrawal notice, its outcome is `withdrawn` with the reason `scanner_withdrawn`",
        roles=("scanner",),
        request=WithdrawReportIn,
        responses={200: WithdrawReportOut, 404: None, 422: None},
        parameters=(
            {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        ),
    )
)


@routes.post("/api/v1/cases/{case_id}/withdraw")
async def withdraw_report(request: web.Request) -> web.Response:
    token = await require_role(request, "scanner")
    raw = request.match_info["case_id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**63:
        raise not_found("case")
    body = parse_body(WithdrawReportIn, await request.read())
    done = await withdraw.withdraw_report(
        request.app[POOL], request.app[SETTINGS], int(raw),
        scanner_id=token.id, scanner_name=token.name, note=body.note,
    )  # fmt: skip
    if done is None:
        raise not_found("case")  # a scanner does not learn whether others' cases exist
    answer = WithdrawReportOut(
        case_id=int(raw), state=ScannerState.WITHDRAWN, withdrawn=bool(done.withdrawn)
    )
    return web.json_response(answer.model_dump())


@routes.get("/api/v1/cases")
async def read_feed(request: web.Request) -> web.Response:
    token = await require_role(request, "scanner")
    limit = _limit(request.query.get("limit"))
    try:
        page = await feed_page(request.app[POOL], token.id, request.query.get("since"), limit)
    except BadCursor as exc:
        raise HttpProblem(
            400, "Bad cursor", f"since: {exc}; use the `next` of a page.", slug="bad-cursor"
        ) from exc
    return web.json_response({"items": [i.as_json() for i in page.items], "next": page.next})


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdecimal() or not 1 <= int(raw) <= MAX_LIMIT:
        raise HttpProblem(
            400,
            "Bad limit",
            f"limit must be a whole number from 1 to {MAX_LIMIT}.",
            slug="bad-limit",
        )
    return int(raw)
