"""Health and readiness, without authentication."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from service.usecases.store import pending_migrations
from service.web.keys import POOL
from service.web.openapi import Operation, build_document, operation

routes = web.RouteTableDef()


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready", "unavailable", "migrations pending"]
    reason: str | None = Field(default=None, description="why the database is unavailable")
    pending: list[str] | None = Field(default=None, description="migrations not yet applied")


# Probes answer in their own JSON (a load balancer reads the status), never problem JSON.
operation(
    Operation(
        "get",
        "/healthz",
        "Liveness: the process answers",
        roles=(),
        responses={200: HealthOut},
        problems=(),
    )
)
operation(
    Operation(
        "get",
        "/readyz",
        "Readiness: the database answers and its schema is current",
        roles=(),
        responses={200: ReadyOut, 503: ReadyOut},
        problems=(),
    )
)


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process is alive."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """The database answers and its schema is current."""
    try:
        async with request.app[POOL].acquire(timeout=2) as conn:
            pending = await pending_migrations(conn)
    except Exception as exc:  # any failure means "not ready"; the reason helps operators
        return web.json_response(
            {"status": "unavailable", "reason": type(exc).__name__}, status=503
        )
    if pending:
        names = [f"{m.version:04d}_{m.name}" for m in pending]
        return web.json_response({"status": "migrations pending", "pending": names}, status=503)
    return web.json_response({"status": "ready"})


@routes.get("/api/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build_document())
