"""/oversight/webhooks: scanners' receivers and the deliveries parked after the retry period,
for analysts, who can send a receiver's parked deliveries again once it works."""

from __future__ import annotations

from aiohttp import web

from service.usecases import webhooks
from service.web import csvexport
from service.web.keys import POOL
from service.web.oversight_view import render
from service.web.session import check_csrf, require_analyst

routes = web.RouteTableDef()

RECEIVER_COLUMNS = (
    ("id", "Webhook"),
    ("scanner", "Scanner"),
    ("url_text", "Receiver"),
    ("pending", "Pending"),
    ("delivered", "Delivered"),
    ("parked", "Parked"),
    ("created_at", "Added"),
)
PARKED_COLUMNS = (
    ("webhook_id", "Webhook"),
    ("scanner", "Scanner"),
    ("case_id", "Case"),
    ("outcome", "Outcome"),
    ("at", "Outcome at"),
    ("attempts", "Attempts"),
    ("first_failed_at", "Failing since"),
    ("parked_at", "Parked"),
    ("last_error", "Last error"),
)


@routes.get("/oversight/webhooks")
async def webhooks_page(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    pool = request.app[POOL]
    parked = await webhooks.parked_deliveries(pool)
    if request.query.get("format") == "csv":
        return csvexport.response("parked-webhook-deliveries", PARKED_COLUMNS, parked)
    # `url` would make the table link the row as a case: the receiver's URL is plain text
    receivers = [r | {"url_text": r["url"]} for r in await webhooks.list_webhooks(pool)]
    return render(
        request,
        "webhooks.html.j2",
        analyst,
        receivers=receivers,
        receiver_columns=RECEIVER_COLUMNS,
        parked=parked,
        parked_columns=PARKED_COLUMNS,
    )


@routes.post("/oversight/webhooks/{webhook_id:\\d+}/retry")
async def retry_parked(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    check_csrf(analyst, await request.post())
    webhook_id = int(request.match_info["webhook_id"])
    if webhook_id < 2**63:
        await webhooks.retry_parked(request.app[POOL], webhook_id)
    raise web.HTTPSeeOther("/oversight/webhooks")
