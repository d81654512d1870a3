"""The trigger that records outcomes reads the same rules as the domain module."""

from __future__ import annotations

import asyncpg

from service.domain.outcomes import OUTCOME_RULES


async def test_the_database_rules_are_the_domain_rules(pool: asyncpg.Pool) -> None:
    rows = await pool.fetch(
        "SELECT priority, outcome, kind, from_state, to_state, reason_key"
        " FROM scanner_outcome_rules ORDER BY priority"
    )
    in_db = [tuple(r) for r in rows]
    in_domain = [
        (r.priority, r.outcome, r.kind, r.from_state, r.to_state, r.reason_key)
        for r in sorted(OUTCOME_RULES, key=lambda r: r.priority)
    ]
    assert in_db == in_domain, "a migration and service/domain/outcomes.py disagree"
