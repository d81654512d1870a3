"""The part the resolve and upstream stages share: one Resolver (HTTP session, caches,
registry pacing) opened on first use and closed when the worker stops."""

from __future__ import annotations

from contextlib import AsyncExitStack

import asyncpg

from service.resolve.resolver import Resolver, open_resolver
from service.settings import Settings


class ResolverOwner:
    """Holds one Resolver for every job a stage handles; `aclose` releases its session."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self._resolver: Resolver | None = None
        self._exit = AsyncExitStack()

    async def resolver(self) -> Resolver:
        if self._resolver is None:
            self._resolver = await self._exit.enter_async_context(
                open_resolver(self.pool, self.settings)
            )
        return self._resolver

    async def aclose(self) -> None:
        """Close the resolver's HTTP session (call at shutdown)."""
        self._resolver = None
        await self._exit.aclose()
