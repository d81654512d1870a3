"""The 'cdn' stage: a case behind a CDN with an abuse-report API is reported through it (and
the report read back later); see service/usecases/cdn.py. Busy APIs (429, 5xx) raise a
transient error and the claim loop retries after the API's Retry-After."""

from __future__ import annotations

import asyncpg

from service.settings import Settings
from service.usecases.cdn import report_case
from service.usecases.queue import Job
from service.workers.loop import Done, Outcome, RunAgainAt


class CdnStage:
    kind = "cdn"

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool, self.settings = pool, settings

    async def handle(self, job: Job) -> Outcome:
        if job.case_id is None:
            return Done()
        after = await report_case(self.pool, self.settings, job.case_id)
        return RunAgainAt(after.at) if after.at is not None else Done()

    async def close(self) -> None:
        return None


def build(pool: asyncpg.Pool, settings: Settings) -> CdnStage:
    return CdnStage(pool, settings)
