"""Stage 'upstream': the upstream provider's desk, looked up when the ladder asks for it.

The escalate sweep does no network I/O inside its case transactions: when a case's ladder
reaches the upstream step and its route has no upstream yet, the sweep marks the route's
lookup "requested", enqueues an 'upstream' job for the case, and the ladder waits. This stage
asks RDAP (the network's parent allocation, else its origin AS; `Resolver.upstream_of`, with
the resolver's bootstrap, registry pacing and network cache), stores the desk on the route as
its last recipient (role "upstream") and on the network's cached record (the network's other
cases then need no query), records what it came to on the route and as a case event, and
makes the case's ladder due again.

A transient registry failure is retried with backoff; after
`TAKEDOWN_RESOLVE_PARTIAL_AFTER_ATTEMPTS` attempts the lookup is recorded as failed and the
step goes on without it (skipped when nobody else is known).
"""

from __future__ import annotations

import asyncpg

from service.db import cases, oversight_repo, resolve_repo
from service.domain.upstream import (
    lookup_failed,
    lookup_found,
    lookup_not_found,
    route_recipients_with,
)
from service.errors import TransientLookupError
from service.resolve.resolver import UpstreamAnswer, primary_address
from service.settings import Settings
from service.usecases import oversee
from service.usecases.queue import Job
from service.workers.loop import Done, Outcome
from service.workers.resolver_owner import ResolverOwner

ACTOR = "worker:upstream"


class UpstreamStage(ResolverOwner):
    """Claims 'upstream' jobs (one per case); one Resolver shared by all of them."""

    kind = "upstream"

    async def handle(self, job: Job) -> Outcome:
        if job.case_id is None:
            return Done()
        async with self.pool.acquire() as conn:
            route = await resolve_repo.upstream_subject(conn, job.case_id)
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
            await self._settle(job.case_id, None, reason)
            return Done()
        await self._settle(job.case_id, answer, answer.reason)
        return Done()

    async def _settle(self, case_id: int, answer: UpstreamAnswer | None, reason: str) -> None:
        """Store the outcome on the route, tell the case history, make the ladder due."""
        upstream = answer.upstream if answer else None
        if upstream is not None and answer is not None:
            lookup = lookup_found(upstream, answer.answered_from)
            kind, detail = "upstream_found", {**upstream.as_json(), "from": answer.answered_from}
        elif answer is not None:
            lookup = lookup_not_found(reason)
            kind, detail = "upstream_not_found", {"reason": reason}
        else:
            lookup = lookup_failed(reason)
            kind, detail = "upstream_not_found", {"reason": reason, "failed": True}
        async with self.pool.acquire() as conn, conn.transaction():
            # The case row first, as the sweep locks it: a sweep deciding this case right now
            # finishes before the wake-up below, so it cannot overwrite it with a later one.
            await cases.state_for_update(conn, case_id)
            route = await resolve_repo.upstream_subject(conn, case_id)
            if route is None:
                return
            placed = route_recipients_with(route["recipients"], upstream)
            if not await resolve_repo.settle_upstream(conn, case_id, placed, lookup):
                return  # the route was decided again meanwhile: its own ladder asks anew
            await cases.add_event(conn, case_id, actor=ACTOR, kind=kind, detail=detail)
            await oversight_repo.wake_case(conn, case_id)
            await oversee.wake_sweep(conn)


def build(pool: asyncpg.Pool, settings: Settings) -> UpstreamStage:
    return UpstreamStage(pool, settings)
