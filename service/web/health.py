"""Health and readiness, without authentication."""

from __future__ import annotations

from aiohttp import web

from service.db.migrate import pending_migrations
from service.web.keys import POOL
from service.web.openapi import build_document

routes = web.RouteTableDef()


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
