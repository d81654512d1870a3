"""The upstream provider's desk, as the escalation ladder asks for it.

When a case's ladder reaches the upstream step and its route has no upstream yet, the escalate
sweep marks the route's lookup "requested" and enqueues an 'upstream' job; the 'upstream' stage
(service/workers/upstream_stage.py) asks RDAP and `settle_lookup` records what it came to: the
desk on the route as its last recipient (role "upstream"), the lookup's outcome on the route,
a case event (upstream_found / upstream_not_found), and the case's ladder made due again.
"""

from __future__ import annotations

import asyncpg

from service.db import cases, oversight_repo, resolve_repo
from service.db.resolve_repo import UpstreamSubject
from service.domain.upstream import (
    lookup_failed,
    lookup_found,
    lookup_not_found,
    route_recipients_with,
)
from service.resolve.resolver import UpstreamAnswer
from service.usecases import oversee

ACTOR = "worker:upstream"


async def requested_lookup(pool: asyncpg.Pool, case_id: int) -> UpstreamSubject | None:
    """The case's route (addresses, ASN, recipients, upstream_lookup), or None."""
    async with pool.acquire() as conn:
        return await resolve_repo.upstream_subject(conn, case_id)


async def settle_lookup(
    pool: asyncpg.Pool, case_id: int, answer: UpstreamAnswer | None, reason: str
) -> None:
    """Store the outcome on the route, tell the case history, make the ladder due
    (answer None: the registry never answered)."""
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
    async with pool.acquire() as conn, conn.transaction():
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
