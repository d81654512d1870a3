"""What the demo prints: a live progress line and the per-hoster summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from service.domain.stats import Duration, summarise
from service.usecases.addresses import split_hosts
from service.usecases.cases import cases_per_hoster, counts_by_state
from service.usecases.cdn import reports_summary
from service.usecases.verdicts import removals_by_reason


def world_time(delta: timedelta | None) -> str:
    """A compact duration: 3d4h, 5h12m, 40m."""
    if delta is None:
        return "—"
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    return f"{hours}h{mins:02d}m" if hours else f"{mins}m"


async def progress_line(pool: asyncpg.Pool, simulated_seconds: float) -> str:
    counts = "  ".join(f"{state}={n}" for state, n in (await counts_by_state(pool)).items())
    return f"[day {simulated_seconds / 86400:4.1f}] {counts}"


async def summary_table(pool: asyncpg.Pool, scale: float) -> str:
    rows = await cases_per_hoster(pool)
    now = datetime.now(UTC)
    by_hoster: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_hoster.setdefault(row["hoster"], []).append(row)
    lines = [
        "\nper hoster (times in simulated time, notice clock; open cases counted by Kaplan–Meier)",
        f"{'hoster':<34}{'cases':>6}{'notices':>8}{'notified':>9}{'acked':>7}{'removed':>8}{'open':>6}"
        f"{'median':>9}{'p90':>9}",
    ]
    for hoster, items in sorted(by_hoster.items()):
        lines.append(_hoster_line(hoster, items, now, scale))
    lines += await _reasons_lines(pool)
    lines += await _split_lines(pool)
    lines += await _cdn_lines(pool)
    return "\n".join(lines)


async def _reasons_lines(pool: asyncpg.Pool) -> list[str]:
    """Removals by what the confirming check saw (docs/verdicts.md), per hoster."""
    reasons = await removals_by_reason(pool)
    lines = ["\nremovals by what was seen (a login wall is never one)"]
    for hoster, counts in sorted(reasons.items()):
        seen = "  ".join(f"{why}={n}" for why, n in sorted(counts.items()))
        lines.append(f"  {hoster[:33]:<34}{seen}")
    return lines if reasons else []


async def _split_lines(pool: asyncpg.Pool) -> list[str]:
    """Hosts served from several networks: each network told, each address checked."""
    rows = await split_hosts(pool)
    lines = ["\nhosts served from several networks (each desk told, each address checked)"]
    for r in rows:
        hosters = " + ".join([r["hoster"] or "?", *r["other_hosters"]])
        lines.append(f"  {r['url']}  {r['state']}  {hosters}")
        if r["last_check"]:
            lines.append(f"    last check: {r['last_check']}")
    return lines if rows else []


def _hoster_line(hoster: str, items: list[asyncpg.Record], now: datetime, scale: float) -> str:
    notified = [r for r in items if r["first_notice_at"]]
    durations = [
        Duration(
            length=((r["first_gone_at"] if r["removed_at"] else now) - r["first_notice_at"])
            * scale,
            removed=r["removed_at"] is not None,
        )
        for r in notified
    ]
    summary = summarise(durations)
    acked = sum(1 for r in items if r["acknowledged_at"])
    removed = sum(1 for r in items if r["removed_at"])
    still_open = len(notified) - removed
    notices = len({n for r in items for n in (r["notices"] or [])})
    return (
        f"{hoster[:33]:<34}{len(items):>6}{notices:>8}{len(notified):>9}{acked:>7}{removed:>8}"
        f"{still_open:>6}"
        f"{world_time(summary.median):>9}{world_time(summary.p90):>9}"
    )


async def _cdn_lines(pool: asyncpg.Pool) -> list[str]:
    """Reports filed through CDN abuse-report APIs instead of e-mail."""
    rows = await reports_summary(pool)
    lines = ["\nreports through CDN abuse-report APIs (instead of e-mail to the CDN)"]
    for r in rows:
        lines.append(
            f"  {r['channel']:<12} filed={r['filed']} read_back={r['read']}"
            f" origin_notified={r['origin_notified']} origin_named={r['origin_named']}"
        )
    return lines if rows else []
