"""Stage 'outbox': a resolved (or reappeared) case joins its best contact's notice batch.

Jobs are per case ('outbox', case_id), enqueued by the resolve stage and by the probe stage
when content reappears. The batch's 'notify' job is due after the gathering window.
"""

from __future__ import annotations

import asyncpg

from service.db.jobs import Job
from service.db.oversight_actions import hold_if_covered
from service.notify.outbox import place_case
from service.settings import Settings
from service.workers.loop import Done, Outcome


class OutboxStage:
    """Places cases into per-recipient notice batches."""

    kind = "outbox"

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    async def handle(self, job: Job) -> Outcome:
        if job.case_id is None:
            return Done()
        async with self.pool.acquire() as conn:
            # A law-enforcement hold wins over sending: nothing goes out about a held case.
            if await hold_if_covered(conn, job.case_id, actor="worker:outbox"):
                return Done()
            await place_case(conn, self.settings, job.case_id)
        return Done()


def build(pool: asyncpg.Pool, settings: Settings) -> OutboxStage:
    return OutboxStage(pool, settings)
