"""Stage 'partners': hand cases to partner hotlines' instances and mirror their outcomes.

Jobs with a case ('partners', case_id) are hand-overs the outbox opened for a country whose
policy is 'forward' (service.usecases.partners.submit): retried with backoff while the
partner is unreachable, until the fallback delay sends the case to our own mail. The one job
with ref_id 0 (created by migration 0146) polls every forward partner's outcome feed and runs
again after `TAKEDOWN_PARTNER_POLL_INTERVAL`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import asyncpg

from service.settings import Settings
from service.usecases import partners
from service.usecases.queue import Job
from service.workers.loop import Done, Outcome, RetryAfter, RunAgainAt, backoff


class PartnerStage:
    """Claims 'partners' jobs: hand-overs (per case) and the feed poll (ref_id 0)."""

    kind = partners.JOB

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    def _http(self) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(total=self.settings.partner_timeout)
        return aiohttp.ClientSession(timeout=timeout)

    async def handle(self, job: Job) -> Outcome:
        if job.case_id is not None:
            return await self._submit(job, job.case_id)
        async with self._http() as http:
            await partners.poll(self.pool, self.settings, http)
        return RunAgainAt(datetime.now(UTC) + self.settings.partner_poll_interval)

    async def _submit(self, job: Job, case_id: int) -> Outcome:
        try:
            async with self._http() as http:
                await partners.submit(self.pool, self.settings, http, case_id)
        except partners.PartnerUnreachable as exc:
            delay = backoff(job.attempts, self.settings.retry_base, self.settings.retry_max)
            return RetryAfter(delay, str(exc))
        return Done()


def build(pool: asyncpg.Pool, settings: Settings) -> PartnerStage:
    return PartnerStage(pool, settings)
