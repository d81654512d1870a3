"""Stage 'upstream': the upstream provider's desk, looked up when the ladder asks for it.

The escalate sweep does no network I/O inside its case transactions: when a case's ladder
reaches the upstream step and its route has no upstream yet, the sweep marks the route's
lookup "requested", enqueues an 'upstream' job for the case, and the ladder waits. This stage
asks RDAP (the network's parent allocation, else its origin AS; `Resolver.upstream_of`, with
the resolver's bootstrap, registry pacing and network cache), stores the desk on the route as
its last recipient (role "upstream") and on the network's cached record (the network's other
cases then need no query), and records what it came to (service/usecases/upstream.py
`settle_lookup`: on the route, as a case event, the case's ladder due again).

A transient registry failure is retried with backoff; after
`TAKEDOWN_RESOLVE_PARTIAL_AFTER_ATTEMPTS` attempts the lookup is recorded as failed and the
step goes on without it (skipped when nobody else is known).
"""

from __future__ import annotations

import asyncpg

from service.errors import TransientLookupError
from service.resolve.resolver import primary_address
from service.settings import Settings
from service.usecases import upstream
from service.usecases.queue import Job
from service.workers.loop import Done, Outcome
from service.workers.resolver_owner import ResolverOwner


class UpstreamStage(ResolverOwner):
    """Claims 'upstream' jobs (one per case); one Resolver shared by all of them."""

    kind = "upstream"

    async def handle(self, job: Job) -> Outcome:
        if job.case_id is None:
            return Done()
        route = await upstream.requested_lookup(self.pool, job.case_id)
        lookup = route["upstream_lookup"] if route else None
        if route is None or not route["ip_addresses"] or (lookup or {}).get("state") != "requested":
            return Done()  # settled already, or the route was decided again: nothing asked
        resolver = await self.resolver()
        ip = primary_address(tuple(route["ip_addresses"]))
        try:
            answer = await resolver.upstream_of(ip, route["asn"])
        except TransientLookupError as exc:
            if job.attempts <= self.settings.resolve_partial_after_attempts:
                raise  # retried with backoff (Retry-After honoured)
            reason = f"the registry did not answer after {job.attempts} attempts: {exc}"
            await upstream.settle_lookup(self.pool, job.case_id, None, reason)
            return Done()
        await upstream.settle_lookup(self.pool, job.case_id, answer, answer.reason)
        return Done()


def build(pool: asyncpg.Pool, settings: Settings) -> UpstreamStage:
    return UpstreamStage(pool, settings)
