"""Stage 'outbox': a resolved (or reappeared) case joins its best contact's notice batch.

Jobs are per case ('outbox', case_id), enqueued by the resolve stage and by the probe stage
when content reappears. The batch's 'notify' job is due after the gathering window. A claimed
batch of jobs is placed in one transaction (service.notify.outbox.place_cases).
"""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from service.notify.outbox import place_cases
from service.settings import Settings
from service.usecases import partners
from service.usecases.oversee import held_if_covered
from service.usecases.queue import Job
from service.workers.loop import Done, Outcome

ACTOR = "worker:outbox"


class OutboxStage:
    """Places cases into per-recipient notice batches."""

    kind = "outbox"
    # Jobs claimed at once (the claim loop's `claim_batch`): a batch's dozen statements serve
    # all its cases, and concurrent batches would only queue for the same notices' locks. At
    # 16 a case cost ~1 ms of CPU (service and PostgreSQL), at 200 ~0.3 ms (bench
    # notice_stages).
    claim_batch = 200

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings

    async def handle(self, job: Job) -> Outcome:
        result = (await self.handle_batch([job]))[job.id]
        if isinstance(result, BaseException):
            raise result
        return result

    async def handle_batch(self, jobs: list[Job]) -> Mapping[int, Outcome | BaseException]:
        case_ids = [job.case_id for job in jobs if job.case_id is not None]
        async with self.pool.acquire() as conn:
            # A law-enforcement hold wins over sending: nothing goes out about a held case.
            held = await held_if_covered(conn, case_ids, actor=ACTOR)
            free = [c for c in case_ids if c not in held]
            # A country whose hotline runs its own instance gets the case handed over instead.
            diverted = await partners.divert(conn, free)
            mailed = [c for c in free if c not in diverted]
            if mailed:
                await place_cases(conn, self.settings, mailed)
        return {job.id: Done() for job in jobs}


def build(pool: asyncpg.Pool, settings: Settings) -> OutboxStage:
    return OutboxStage(pool, settings)
