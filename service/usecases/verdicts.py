"""Reading a re-check: what a host serves instead of the content, learned per host.

A host that answers every removed file with the same bytes (its "removed" image or page)
is told apart from one that serves something else each time: once the same bytes (sha256)
were served for `PLACEHOLDER_MIN_URLS` cases of a host, they are its placeholder and every
check seeing them says so (docs/verdicts.md).
"""

from __future__ import annotations

import asyncpg

from service.db import probe_repo
from service.domain.verdicts import PLACEHOLDER_MIN_URLS, Why, as_placeholder
from service.probe.runner import ProbeResult


async def read_placeholder(
    pool: asyncpg.Pool, host: str, case_id: int, report: ProbeResult
) -> ProbeResult:
    """`report`, re-read as 'placeholder' when its bytes are the host's learned placeholder.

    Only other content served with a 2xx is considered; the sighting is stored (once per
    case) whether or not the threshold is reached yet, so the host's next case learns it."""
    served = report.hashes.get("sha256")
    if report.why is not Why.OTHER_CONTENT or not served:
        return report
    async with pool.acquire() as conn:
        cases = await probe_repo.sight_placeholder(conn, host, served.lower(), case_id)
    if cases < PLACEHOLDER_MIN_URLS:
        return report
    return report.with_decision(as_placeholder(report.decision()))


async def removals_by_reason(pool: asyncpg.Pool) -> dict[str, dict[str, int]]:
    """Confirmed removals per hoster, by what the confirming check saw."""
    async with pool.acquire() as conn:
        rows = await probe_repo.removals_by_reason(conn)
    out: dict[str, dict[str, int]] = {}
    for row in rows:
        out.setdefault(row["hoster"], {})[row["why"]] = row["removals"]
    return out
