"""Stage 'webhook': delivers scanners' outcomes to their receivers.

One periodic job per receiver ('webhook', ref_id = webhook id), created when the receiver is
added: while one worker holds it, nobody else sends to that receiver, which keeps each case's
messages in order. See service/usecases/webhooks.py for the rounds, retries and parking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from service.notify.webhooks import WebhookSender
from service.probe.guard import DnsResolver
from service.settings import Settings
from service.usecases.queue import Job
from service.usecases.webhooks import JOB_KIND, deliver_round
from service.workers.loop import Done, Outcome, RunAgainAt


class WebhookStage:
    """Sends due deliveries, one receiver per job."""

    kind = JOB_KIND

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self.sender: WebhookSender | None = None

    @asynccontextmanager
    async def resources(self) -> AsyncIterator[None]:
        resolver = DnsResolver(self.settings.dns_nameservers, self.settings.dns_timeout)
        async with WebhookSender(
            allow_private=self.settings.allow_private_targets,
            timeout=self.settings.webhook_timeout,
            resolver=resolver,
        ) as sender:
            self.sender = sender
            try:
                yield
            finally:
                self.sender = None

    async def handle(self, job: Job) -> Outcome:
        assert job.ref_id is not None and self.sender is not None
        again = await deliver_round(self.pool, self.settings, self.sender, job.ref_id)
        return Done() if again is None else RunAgainAt(again)


def build(pool: asyncpg.Pool, settings: Settings) -> WebhookStage:
    return WebhookStage(pool, settings)
