"""`takedown probe-server` (the probe alone, for another network) and `takedown stats`
(time to removal per hoster, counting open cases with Kaplan–Meier)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import click
from aiohttp import web

from service.cli.base import get_settings, main, run
from service.domain.stats import Summary, summaries_of
from service.probe.server import create_app
from service.settings import listen_address
from service.usecases import probe
from service.usecases.store import database_url, pool_for


@main.command("probe-server")
@click.option("--listen", default=None, help="host:port (default: TAKEDOWN_LISTEN).")
@click.pass_context
def probe_server(ctx: click.Context, listen: str | None) -> None:
    """Run the probe alone as an HTTP service (POST /probe; token TAKEDOWN_PROBE_TOKEN).

    It needs no database: deploy it in another network, and point the tracker's
    TAKEDOWN_PROBE_URL at it. The tracker then only ever receives hashes and verdicts.
    """
    settings = get_settings(ctx)
    try:
        host, port = listen_address(listen or settings.listen)
        app = create_app(settings)
    except Exception as exc:
        raise click.ClickException(str(exc)) from exc
    web.run_app(
        app,
        host=host or "127.0.0.1",
        port=port,
        access_log=None,
        print=None,
        keepalive_timeout=settings.http_idle_timeout,
    )


@main.command("stats")
@click.option("--clock", type=click.Choice(["notice", "detection"]), default="notice")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def stats(ctx: click.Context, clock: str, as_json: bool) -> None:
    """Time to removal per hoster: median, p90, share removed within 24 h / 72 h.

    Open cases count (censored, Kaplan–Meier); "-" means not reached yet.
    """
    summaries, recidivism = run(_collect(database_url(get_settings(ctx)), clock))
    if as_json:
        click.echo(json.dumps(_as_json(summaries, recidivism), indent=2))
        return
    click.echo(f"time to removal, {clock} clock (open cases counted, Kaplan–Meier)")
    click.echo(_HEADER)
    for hoster, summary in summaries.items():
        click.echo(_line(hoster, summary, recidivism.get(hoster, 0)))


async def _collect(dsn: str, clock: str) -> tuple[dict[str, Summary], dict[str, int]]:
    async with pool_for(dsn, min_size=1, max_size=1) as pool:
        hosters, overall = await probe.removal_histograms(pool, datetime.now(UTC), clock)
        recidivism = await probe.reappearances(pool)
    return summaries_of(hosters, overall), recidivism


_HEADER = (
    f"{'hoster':<32} {'cases':>6} {'removed':>8} {'median':>10} {'p90':>10}"
    f" {'≤24h':>6} {'≤72h':>6} {'back':>5}"
)


def _line(hoster: str, s: Summary, back: int) -> str:
    return (
        f"{hoster[:32]:<32} {s.cases:>6} {s.removed:>8} {_span(s.median):>10} {_span(s.p90):>10}"
        f" {s.within_24h:>6.0%} {s.within_72h:>6.0%} {back:>5}"
    )


def _span(value: timedelta | None) -> str:
    if value is None:
        return "-"
    hours = value.total_seconds() / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.1f}h"


def _as_json(summaries: dict[str, Summary], recidivism: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "hoster": hoster,
            "cases": s.cases,
            "removed": s.removed,
            "median_s": s.median.total_seconds() if s.median else None,
            "p90_s": s.p90.total_seconds() if s.p90 else None,
            "within_24h": s.within_24h,
            "within_72h": s.within_72h,
            "reappearances": recidivism.get(hoster, 0),
        }
        for hoster, s in summaries.items()
    ]
