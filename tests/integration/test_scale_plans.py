"""The plans that keep the service fast at a million cases, guarded on 20 000 generated ones.

The scale benchmark (python -m bench scale) measures the figures; this keeps the query plans
it relies on from regressing: claims on the jobs_due index, the overdue queue's per-row
lookups (holds, hoster answers, notices) on indexes rather than scans of growing tables, and
the statistics' per-case notice counts on notice_items' case index.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from bench.plans import indexes_used, nodes, plan_of, seq_scans
from bench.scale_data import load
from service.db import oversight_repo
from service.db.queries import q
from service.db.tokens import create_token
from service.domain.sla import SlaPolicy

CASES = 20_000
H = timedelta(hours=1)


class _CapturingConnection:
    """Records the SQL and arguments the repository sends, answering with one case id."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.calls.append((sql, args))
        return [{"id": 1}] if len(self.calls) == 1 else []


async def _loaded(db_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(db_url)
    token, _ = await create_token(conn, "plans-scanner", "scanner")
    await load(conn, CASES, token.id)
    return conn


async def test_claim_overdue_page_and_stats_use_indexes(db_url: str) -> None:
    conn = await _loaded(db_url)
    try:
        claim = await plan_of(conn, q("claim_jobs"), "probe", 20, "w", timedelta(minutes=5))
        assert "jobs_due" in indexes_used(claim)
        assert seq_scans(claim, {"jobs"}) == []

        # At 20 000 cases a scan of a small table is the planner's right choice; with scans
        # priced out, any Seq Scan left is a lookup no index can serve (one that would scan a
        # growing table per row at a million cases).
        await conn.execute("SET enable_seqscan = off")
        capture = _CapturingConnection()
        sla = SlaPolicy(timedelta(hours=72), {"NL": timedelta(hours=24)}, {"Hoster 7": H})
        await oversight_repo.queue(capture, "overdue", sla, oversight_repo.QueueFilter())
        (walk_sql, walk_args), (sql, args) = capture.calls
        # the page's ids: one ordered walk of the notice clock per allowance class, joined to
        # routes by key — never a scan or a sort of every open case
        walk = await plan_of(conn, walk_sql, *walk_args)
        assert "cases_on_notice_clock" in indexes_used(walk)
        assert seq_scans(walk, {"cases", "case_routes"}) == []
        assert not [n for n in nodes(walk) if n["Node Type"] in ("Hash Join", "Bitmap Heap Scan")]
        page = await plan_of(conn, sql, *args)
        lookups = {"holds", "ack_answers", "notice_items", "notices", "escalations"}
        assert seq_scans(page, lookups | {"cases", "case_routes"}) == []
        assert {"holds_active_case", "ack_answers_open_case"} <= indexes_used(page)

        stats = await plan_of(conn, q("oversight_stats_rows"))
        assert seq_scans(stats, {"notice_items"}) == []
        assert "notice_items_case" in indexes_used(stats)
    finally:
        await conn.close()
