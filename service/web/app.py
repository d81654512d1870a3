"""`create_app(settings)`: the aiohttp application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
from aiohttp import web

from service.settings import Settings
from service.usecases.policies import Policies, policies_from
from service.usecases.store import create_pool
from service.web import (
    ack,
    api,
    bounces,
    contacts_api,
    feed_api,
    health,
    metrics,
    oversight,
    webhooks_api,
)
from service.web.keys import POLICIES, POOL, SETTINGS
from service.web.middlewares import (
    body_deadline_middleware,
    error_middleware,
    secure_headers_middleware,
)
from service.web.ratelimit import rate_limit_middleware


def create_app(
    settings: Settings, pool: asyncpg.Pool | None = None, policies: Policies | None = None
) -> web.Application:
    """Build the application. Without `pool`, one is opened from settings.database_url;
    without `policies`, they are built from the settings here (once)."""
    app = web.Application(
        middlewares=[
            secure_headers_middleware,
            rate_limit_middleware(settings),
            error_middleware,
            body_deadline_middleware(settings),
        ],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[POLICIES] = policies or policies_from(settings)
    if pool is not None:
        app[POOL] = pool
    else:
        app.cleanup_ctx.append(_pool_ctx)
    app.add_routes(health.routes)
    app.add_routes(metrics.routes)
    app.add_routes(api.routes)
    app.add_routes(feed_api.routes)
    app.add_routes(webhooks_api.routes)
    app.add_routes(ack.routes)
    app.add_routes(bounces.routes)
    app.add_routes(contacts_api.routes)
    oversight.setup(app)  # /oversight/ pages and /api/v1/oversight/ (issue 7)
    return app


async def _pool_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.dsn:
        raise RuntimeError("create_app needs settings.database_url (the CLI resolves it)")
    app[POOL] = await create_pool(
        settings.dsn,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        retry_for=settings.db_connect_timeout,
    )
    yield
    await app[POOL].close()


def runner_for(app: web.Application, settings: Settings) -> web.AppRunner:
    """The runner `serve` uses: aiohttp closes a connection that has not sent a complete
    request head `http_idle_timeout` after it opened or after the last answer (idle clients
    and headers sent a line at a time; aiohttp's default was an hour)."""
    return web.AppRunner(app, access_log=None, keepalive_timeout=settings.http_idle_timeout)
