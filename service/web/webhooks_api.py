"""Scanners' webhook receivers over the API (hotline token), and the parked deliveries that
analysts see: what `takedown webhook add|list|remove` does, for the hotline's own tools."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from service.usecases import webhooks
from service.web.auth import require_role
from service.web.bodies import parse_body
from service.web.keys import POOL
from service.web.openapi import Operation, operation
from service.web.problems import HttpProblem, not_found

routes = web.RouteTableDef()


class WebhookIn(BaseModel):
    """A receiver for one scanner's outcomes."""

    model_config = ConfigDict(extra="forbid")
    scanner: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            return webhooks.check_url(value)
        except webhooks.WebhookError as exc:
            raise ValueError(str(exc)) from None


class WebhookCreated(BaseModel):
    """The new receiver; `secret` (whsec_…) is shown here once and never again."""

    id: int
    scanner: str
    url: str
    secret: str


class WebhookOut(BaseModel):
    id: int
    scanner: str
    url: str
    created_at: datetime
    created_by: str
    pending: int
    delivered: int
    parked: int


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class ParkedDelivery(BaseModel):
    """A delivery retried for the whole retry period without a 2xx answer."""

    id: int
    webhook_id: int
    url: str
    scanner: str
    case_id: int
    outcome: str
    at: datetime
    attempts: int
    first_failed_at: datetime | None
    parked_at: datetime | None
    last_error: str | None


class ParkedList(BaseModel):
    deliveries: list[ParkedDelivery]


class Retried(BaseModel):
    retried: int


_WEBHOOK_ID = {"name": "webhook_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_SCANNER = {"name": "scanner", "in": "query", "required": False, "schema": {"type": "string"}}

for op in (
    Operation(
        "get",
        "/api/v1/webhooks",
        "Scanners' webhook receivers with their delivery counts",
        roles=("hotline",),
        responses={200: WebhookList, 404: None},
        parameters=(_SCANNER,),
    ),
    Operation(
        "post",
        "/api/v1/webhooks",
        "Add a receiver of a scanner's outcomes; answers its signing secret once",
        roles=("hotline",),
        request=WebhookIn,
        responses={201: WebhookCreated, 422: None},
    ),
    Operation(
        "delete",
        "/api/v1/webhooks/{webhook_id}",
        "Remove a receiver",
        roles=("hotline",),
        responses={204: None, 404: None},
        parameters=(_WEBHOOK_ID,),
    ),
    Operation(
        "get",
        "/api/v1/oversight/webhooks/parked",
        "Deliveries parked after the retry period, newest first",
        roles=("hotline",),
        responses={200: ParkedList},
    ),
    Operation(
        "post",
        "/api/v1/oversight/webhooks/{webhook_id}/retry",
        "Send a receiver's parked deliveries again",
        roles=("hotline",),
        responses={200: Retried, 404: None},
        parameters=(_WEBHOOK_ID,),
    ),
):
    operation(op)


@routes.get("/api/v1/webhooks")
async def list_webhooks(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    try:
        rows = await webhooks.list_webhooks(request.app[POOL], request.query.get("scanner"))
    except webhooks.WebhookError as exc:
        raise HttpProblem(404, "Not found", str(exc), slug="not-found") from None
    return web.json_response(WebhookList.model_validate({"webhooks": rows}).model_dump(mode="json"))


@routes.post("/api/v1/webhooks")
async def add_webhook(request: web.Request) -> web.Response:
    token = await require_role(request, "hotline")
    wanted: WebhookIn = parse_body(WebhookIn, await request.read())
    try:
        added = await webhooks.add_webhook(
            request.app[POOL], wanted.scanner, wanted.url, actor=f"hotline:{token.name}"
        )
    except webhooks.WebhookError as exc:
        raise HttpProblem(
            422, "Invalid input", str(exc), slug="invalid", errors=[_error(exc)]
        ) from None
    body = WebhookCreated(id=added.id, scanner=added.scanner, url=added.url, secret=added.secret)
    return web.json_response(body.model_dump(), status=201)


def _error(exc: webhooks.WebhookError) -> dict[str, Any]:
    return {"field": "scanner" if "scanner" in str(exc) else "url", "reason": str(exc)}


@routes.delete("/api/v1/webhooks/{webhook_id}")
async def remove_webhook(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    if not await webhooks.remove_webhook(request.app[POOL], _webhook_id(request)):
        raise not_found("webhook")
    return web.Response(status=204)


@routes.get("/api/v1/oversight/webhooks/parked")
async def parked(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    rows = await webhooks.parked_deliveries(request.app[POOL])
    return web.json_response(
        ParkedList.model_validate({"deliveries": rows}).model_dump(mode="json")
    )


@routes.post("/api/v1/oversight/webhooks/{webhook_id}/retry")
async def retry(request: web.Request) -> web.Response:
    await require_role(request, "hotline")
    retried = await webhooks.retry_parked(request.app[POOL], _webhook_id(request))
    return web.json_response({"retried": retried})


def _webhook_id(request: web.Request) -> int:
    raw = request.match_info["webhook_id"]
    if not raw.isdecimal() or not 0 < int(raw) < 2**63:
        raise not_found("webhook")
    return int(raw)
