"""Stage 'escalate': reminders and the escalation ladder for cases on the notice clock.

One long-lived sweep job (ref_id 0, created by migration 0050; analysts' actions make it due
at once). What each run does — holds applied to new arrivals, then reminders and ladder steps
for every case whose ladder is due, one transaction per case, the upstream step waiting for
the 'upstream' stage's lookup — is service/usecases/escalate.py (`Sweep.run`); this stage
schedules it (again at once while more cases are due, else at the earliest wake-up or after
TAKEDOWN_ESCALATION_SWEEP_INTERVAL).

With `TAKEDOWN_RETENTION_DAYS` set, a second job of this stage (ref_id 1, ensured by each
sweep) purges the URLs of long-closed cases every hour, as `takedown retention purge` does;
without the setting that job ends and nothing is purged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from service.settings import Settings
from service.usecases.escalate import RETENTION_REF, Sweep
from service.usecases.policies import Policies, policies_from
from service.usecases.queue import Job
from service.usecases.retention import purge_closed_cases
from service.workers.loop import Done, Outcome, RunAgainAt

log = logging.getLogger(__name__)
RETENTION_INTERVAL = timedelta(hours=1)


class EscalateStage:
    """Sweeps for due reminders and ladder steps."""

    kind = "escalate"

    def __init__(
        self, pool: asyncpg.Pool, settings: Settings, policies: Policies | None = None
    ) -> None:
        self.pool = pool
        self.settings = settings
        policies = policies or policies_from(settings)
        self.sla = policies.sla
        self.policy = policies.ladder
        self.sweep = Sweep(settings, self.sla, self.policy)

    async def handle(self, job: Job) -> Outcome:
        if job.ref_id == RETENTION_REF:
            return await self.retention()
        keep = self.settings.retention_days is not None
        done = await self.sweep.run(self.pool, keep_retention_job=keep)
        if done.more:
            return RunAgainAt(done.now)  # more waiting: continue at once
        later = done.now + self.settings.escalation_sweep_interval
        return RunAgainAt(min(later, done.wake) if done.wake else later)

    async def retention(self) -> Outcome:
        """Purge the URLs of cases closed for longer than the retention period; hourly."""
        days = self.settings.retention_days
        if days is None:
            return Done()  # the setting was removed: the job ends (a sweep brings it back)
        result = await purge_closed_cases(self.pool, timedelta(days=days))
        if result.purged:
            log.info("retention: purged the URLs of %d cases closed > %d days", result.purged, days)
        for case_id, count in sorted(result.events_quoting_url.items()):
            log.warning("retention: case %d has %d event(s) quoting its URL", case_id, count)
        return RunAgainAt(datetime.now(UTC) + RETENTION_INTERVAL)

    async def remind(self, conn: asyncpg.Connection, row: dict[str, Any]) -> None:
        """A reminder to the case's recipient now, on the caller's connection."""
        await self.sweep.remind(conn, row)


def build(pool: asyncpg.Pool, settings: Settings, policies: Policies) -> EscalateStage:
    return EscalateStage(pool, settings, policies)
