"""Hosts served from several networks (A/AAAA records in more than one provider's space).

The resolver gives such a case one route per network (case_routes for the network the routing
follows and the statistics count, case_address_routes for each other one); the outbox tells
each network's desk; the probe checks every address and the case is gone only when no address
serves the content. This module answers what the operator asks about them.
"""

from __future__ import annotations

import asyncpg

from service.db import resolve_repo
from service.db.resolve_repo import SplitCase


async def split_hosts(pool: asyncpg.Pool, limit: int = 50) -> list[SplitCase]:
    """Cases whose host is served from several networks, with their hosters, state and the
    latest check's reason (which names each address's verdict)."""
    async with pool.acquire() as conn:
        return await resolve_repo.split_cases(conn, limit)
