"""`POST /api/v1/bounces`: a delivery status notification, as the raw RFC 5322 message.

Mail infrastructure (or an analyst) forwards bounces here; a permanent failure marks the contact
failing and moves the notice's items to the next contact, exactly like a 5xx at send time. A
bounce from a copy (Cc) only records that copy as failing.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from service import observability
from service.notify.bounces import apply_bounce, parse_bounce
from service.web.auth import require_role
from service.web.keys import POOL, SETTINGS
from service.web.openapi import Operation, operation
from service.web.problems import HttpProblem

routes = web.RouteTableDef()


class RawMessage(BaseModel):
    """The complete message (headers and body) as received, e.g. message/rfc822."""


class BounceResult(BaseModel):
    matched: bool
    action: Literal["ignored", "rerouted", "cc_failed"]
    notice_id: int | None = None
    reason: str | None = None
    moved_to: list[str] = []
    hotline_queue: int = 0
    # Copies (Cc) that bounced: recorded, while the notice stays with its main recipient.
    cc_failed: list[str] = []


operation(
    Operation(
        "post",
        "/api/v1/bounces",
        "Report a delivery status notification (RFC 3464) for a notice",
        roles=("hotline", "probe"),
        request=RawMessage,
        request_content_type="message/rfc822",
        responses={200: BounceResult, 413: None},
    )
)


@routes.post("/api/v1/bounces")
async def post_bounce(request: web.Request) -> web.Response:
    await require_role(request, "hotline", "probe")
    raw = await request.read()
    if not raw.strip():
        raise HttpProblem(400, "Empty message", "Send the raw bounce message.", slug="empty")
    bounce = parse_bounce(raw)
    async with request.app[POOL].acquire() as conn:
        summary = await apply_bounce(conn, request.app[SETTINGS], bounce)
    if summary["action"] == "rerouted":  # counted once: a repeated DSN is "ignored"
        observability.NOTICES.labels(outcome="bounced").inc()
    return web.json_response(BounceResult(**summary).model_dump(exclude_none=True))
