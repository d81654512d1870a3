"""Runs the HTTP server and worker stages in one process until stopped."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

import asyncpg
from aiohttp import web

from service.cli.ops import warn_if_insecure
from service.errors import ConfigurationError
from service.packaged import missing_files
from service.settings import Settings
from service.usecases.policies import policies_from
from service.usecases.store import create_pool, migrate
from service.web.app import create_app, runner_for
from service.workers.loop import ClaimLoop, loop_config
from service.workers.registry import build_stage

log = logging.getLogger(__name__)


def refuse_a_partial_install(settings: Settings) -> None:
    """Stop before serving when the install lacks templates, SQL or data files: otherwise the
    first notice or page would fail long after start, far from the cause."""
    missing = missing_files(settings)
    if missing:
        lines = "\n".join(f"  - {line}" for line in missing)
        raise ConfigurationError(
            "cannot start: files the service reads at run time are missing:\n"
            f"{lines}\nReinstall takedown-tracker, or fix TAKEDOWN_TEMPLATES_DIR."
        )


class Runtime:
    """API and/or workers sharing one pool; `async with` starts and drains them."""

    def __init__(self, settings: Settings, stages: list[str], *, http: bool = True) -> None:
        self.settings = settings
        self.stage_names = stages
        self.policies = policies_from(settings)  # the one set of rules for HTTP and workers
        self.http = http
        self.stop = asyncio.Event()
        self.pool: asyncpg.Pool | None = None
        self.runner: web.AppRunner | None = None
        self.loops: list[ClaimLoop] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.port: int | None = None

    async def __aenter__(self) -> Runtime:
        assert self.settings.dsn
        refuse_a_partial_install(self.settings)
        warn_if_insecure(self.settings)
        self.pool = await create_pool(
            self.settings.dsn,
            min_size=self.settings.db_pool_min,
            max_size=self.settings.db_pool_max,
            retry_for=self.settings.db_connect_timeout,
        )
        async with self.pool.acquire() as conn:
            await migrate(conn)
        if self.http:
            await self._start_http(self.pool)
        self._start_workers(self.pool)
        return self

    async def _start_http(self, pool: asyncpg.Pool) -> None:
        self.runner = runner_for(create_app(self.settings, pool, self.policies), self.settings)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.settings.listen_host, self.settings.listen_port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.listen_port

    def _start_workers(self, pool: asyncpg.Pool) -> None:
        config = loop_config(self.settings)
        for name in self.stage_names:
            claim_loop = ClaimLoop(
                pool, build_stage(name, pool, self.settings, self.policies), config, self.stop
            )
            self.loops.append(claim_loop)
            self.tasks.append(asyncio.create_task(claim_loop.run(), name=f"stage-{name}"))

    def describe(self) -> str:
        parts = []
        if self.http:
            parts.append(f"HTTP on http://{self.settings.listen_host}:{self.port}")
        parts.append(f"workers: {', '.join(self.stage_names) or 'none'}")
        return "; ".join(parts)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        for claim_loop in self.loops:
            # Stages that hold client sessions (HTTP, SMTP) release them here.
            closer = getattr(claim_loop.stage, "aclose", None)
            if closer is not None:
                await closer()
        if self.runner is not None:
            await self.runner.cleanup()
        if self.pool is not None:
            await self.pool.close()
