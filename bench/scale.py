"""Scale: N cases in a live-looking mix, then the costs that must not grow with N.

    python -m bench scale --cases 1000000

Loads a fresh database with COPY (bench/scale_data.py), then measures with targets:
claiming a batch of 20 due probe checks (≤ 5 ms, the plan on an index), the overdue queue
page through the oversight repository and over HTTP with a hotline token (p95 ≤ 200 ms),
the statistics queries (≤ 1 s each) and a probe worker's peak memory while due checks flow
through the real probe stage (< 300 MB).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from pydantic import SecretStr

from bench import worker_memory
from bench.database import fresh_database
from bench.plans import Figure, percentile, plan_of, seq_scans, timed_ms
from bench.scale_data import load
from service.db import jobs
from service.db.pool import create_pool
from service.db.queries import q
from service.db.tokens import create_token
from service.settings import Settings

BIG_TABLES = {"cases", "case_routes", "case_events", "jobs", "notice_items", "notices"}
# The overdue queue over HTTP: the first path the oversight API answers (it is being written).
QUEUE_PATHS = ("/api/v1/queues/overdue", "/api/v1/oversight/queues/overdue", "/api/v1/overdue")


async def measure_claim(conn: asyncpg.Connection, runs: int = 100) -> list[Figure]:
    lease = timedelta(minutes=5)
    plan = await plan_of(conn, q("claim_jobs"), "probe", 20, "bench", lease)
    scans = seq_scans(plan, BIG_TABLES)
    spent = await timed_ms(lambda: jobs.claim(conn, "probe", 20, "bench", lease), runs)
    note = "plan: Seq Scan on " + ", ".join(scans) if scans else "plan on index jobs_due"
    return [
        Figure("claim 20 due checks, p50", percentile(spent, 0.5), "ms", 5, note),
        Figure("claim 20 due checks, p95", percentile(spent, 0.95), "ms", 5),
    ]


def _oversight_repo() -> Any | None:
    try:
        return importlib.import_module("service.db.oversight_repo")
    except ImportError:
        return None


async def measure_overdue(conn: asyncpg.Connection, settings: Settings) -> list[Figure]:
    repo = _oversight_repo()
    if repo is None or not hasattr(repo, "queue"):
        print("overdue queue: service.db.oversight_repo.queue is not there yet — skipped")
        return []
    from service.domain.sla import SlaPolicy

    sla = SlaPolicy(settings.sla_default, settings.sla_by_country, settings.sla_by_hoster)
    first = await timed_ms(lambda: repo.queue(conn, "overdue", sla, repo.QueueFilter()), 10)
    page = await repo.queue(conn, "overdue", sla, repo.QueueFilter())
    for _ in range(10):  # walk ten pages deep by keyset
        if page.next_after is None:
            break
        page = await repo.queue(conn, "overdue", sla, repo.QueueFilter(), after=page.next_after)
    cursor = page.next_after
    deep = await timed_ms(
        lambda: repo.queue(conn, "overdue", sla, repo.QueueFilter(), after=cursor), 10
    )
    return [
        Figure("overdue page 1 (repo), p95", percentile(first, 0.95), "ms", 200),
        Figure("overdue page 11 (keyset), p95", percentile(deep, 0.95), "ms", 200),
    ]


async def measure_api(pool: asyncpg.Pool, settings: Settings) -> list[Figure]:
    from service.web.app import create_app

    async with pool.acquire() as conn:
        _, secret = await create_token(conn, "bench-hotline", "hotline")
    runner = web.AppRunner(create_app(settings, pool), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        headers = {"Authorization": f"Bearer {secret}"}
        async with aiohttp.ClientSession(base, headers=headers) as http:
            return await _api_figures(http)
    finally:
        await runner.cleanup()


async def _api_figures(http: aiohttp.ClientSession) -> list[Figure]:
    for path in QUEUE_PATHS:
        async with http.get(path) as resp:
            if resp.status == 404:
                continue
            if resp.status != 200:
                print(f"overdue API {path}: HTTP {resp.status}")
                return []

        async def get(path: str = path) -> None:
            async with http.get(path) as resp:
                await resp.read()

        spent = await timed_ms(get, 20)
        return [Figure(f"overdue API GET {path}, p95", percentile(spent, 0.95), "ms", 200)]
    print("overdue API: no oversight queue route answers yet — skipped")
    return []


async def measure_stats(conn: asyncpg.Connection, pool: asyncpg.Pool) -> list[Figure]:
    """What a reader waits for: the query and the Kaplan–Meier figures computed from it."""
    from datetime import UTC, datetime

    from service.db import probe_repo
    from service.domain.stats import summaries_of
    from service.web.oversight_stats import load_stats, stats_csv_chunks

    async def probe_stats() -> None:  # what `takedown stats` does
        summaries_of(*await probe_repo.stats_histograms(conn, datetime.now(UTC), "notice"))

    async def every_hoster_csv() -> None:  # the export lists every group, page by page
        async for _rows in stats_csv_chunks(pool, "hoster"):
            pass

    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        "stats takedown stats (probe_stats_histograms + KM)": probe_stats,
        "stats page by hoster (histograms + KM)": lambda: load_stats(pool, "hoster"),
        "stats page by country (histograms + KM)": lambda: load_stats(pool, "country"),
        "stats count_cases_by_state": lambda: conn.fetch(q("count_cases_by_state")),
    }
    figures = []
    for name, call in calls.items():
        spent = await timed_ms(call, 3)
        figures.append(Figure(name, percentile(spent, 0.5) / 1000, "s", 1))
    # A download of every hoster's row: linear in the hosters by nature, so its own budget.
    spent = await timed_ms(every_hoster_csv, 1)
    figures.append(Figure("stats CSV by hoster (every group)", spent[0] / 1000, "s", 10))
    return figures


async def measure_memory(dsn: str, checks: int) -> list[Figure]:
    handled, rate, rss = await worker_memory.measure(dsn, checks)
    note = f"{handled} checks at {rate:,.0f}/s"
    return [Figure("probe worker peak RSS", rss, "MB", 300, note)]


async def run(cases: int, checks: int = 2000, memory: bool = True) -> list[Figure]:
    """Load `cases` into a fresh database, print and return every figure."""
    async with fresh_database("scale") as dsn:
        conn = await asyncpg.connect(dsn)
        token, _ = await create_token(conn, "bench-scanner", "scanner")
        seconds = await load(conn, cases, token.id)
        print(f"loaded {cases:,} cases in {seconds:.0f} s ({await _sizes(conn)})", flush=True)
        settings = Settings(database_url=SecretStr(dsn))
        figures = await _measure_all(conn, dsn, settings, checks if memory else 0)
        await conn.close()
    return figures


async def _measure_all(
    conn: asyncpg.Connection, dsn: str, settings: Settings, checks: int
) -> list[Figure]:
    steps: list[Callable[[], Awaitable[list[Figure]]]] = [
        lambda: measure_claim(conn),
        lambda: measure_overdue(conn, settings),
        lambda: _with_pool(dsn, lambda pool: measure_api(pool, settings)),
        lambda: _with_pool(dsn, lambda pool: measure_stats(conn, pool)),
    ]
    if checks:
        steps.append(lambda: measure_memory(dsn, checks))
    figures: list[Figure] = []
    for step in steps:
        for figure in await step():
            print(figure.render(), flush=True)
            figures.append(figure)
    return figures


async def _with_pool(
    dsn: str, call: Callable[[asyncpg.Pool], Awaitable[list[Figure]]]
) -> list[Figure]:
    pool = await create_pool(dsn, min_size=1, max_size=8)
    try:
        return await call(pool)
    finally:
        await pool.close()


async def _sizes(conn: asyncpg.Connection) -> str:
    rows = await conn.fetch(
        "SELECT relname, reltuples::bigint AS n FROM pg_class WHERE relkind = 'r'"
        " AND relnamespace = 'public'::regnamespace ORDER BY reltuples DESC LIMIT 6"
    )
    return ", ".join(f"{r['relname']} {r['n']:,}" for r in rows)
