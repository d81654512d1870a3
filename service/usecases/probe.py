"""What the probe stage records, and what its figures read.

The 'probe' stage (service/workers/probe_stage.py) fetches and hashes; the verdict rules are
in service/domain/verdicts.py and what a verdict does to a case in service/domain/schedule.py
(`react`). This module reads the probe's figures: time to removal per hoster
(`removal_histograms`) and reappearances per hoster (`reappearances`).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from service.db import probe_repo
from service.domain.stats import Histogram


async def removal_histograms(
    pool: asyncpg.Pool, now: datetime, clock: str
) -> tuple[list[Histogram], Histogram]:
    """Time to removal on `clock` ('notice' or 'detection') per hoster and over every hoster,
    open cases censored at `now` (for service.domain.stats.summaries_of)."""
    async with pool.acquire() as conn:
        return await probe_repo.stats_histograms(conn, now, clock)


async def reappearances(pool: asyncpg.Pool) -> dict[str, int]:
    """How often content came back after a removal, per hoster."""
    async with pool.acquire() as conn:
        return {r["hoster"]: r["reappearances"] for r in await probe_repo.recidivism(conn)}
