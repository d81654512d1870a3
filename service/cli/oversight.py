"""`takedown analyst create|disable|sessions|totp-reset`, `takedown hold add|lift|list`,
`takedown stats-by`.

`takedown stats` (per hoster) belongs to the probe area; `stats-by` adds the ASN and country
views with the same Kaplan–Meier estimates plus the oversight figures (42-day tail,
recidivism, failed notices).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click

from service.cli.base import get_settings, main, run
from service.domain.passwords import MIN_LENGTH
from service.domain.scorecard import GroupHistogram, cards_of_histograms
from service.domain.stats import Histogram
from service.usecases import analysts, oversee, statistics
from service.usecases.store import database_url, pool_for
from service.web.charts import human

CLI_ACTOR = "cli"


@main.group()
def analyst() -> None:
    """Hotline accounts for the /oversight/ pages."""


@analyst.command("create")
@click.option("--name", required=True, help="login name (lower case)")
@click.option("--role", type=click.Choice(["analyst", "supervisor"]), default="analyst")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input")
@click.pass_context
def analyst_create(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Create an analyst (or reset its password and role, ending its sessions)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_LENGTH:
        raise click.ClickException(f"a password needs at least {MIN_LENGTH} characters")
    row = _with_pool(ctx, analysts.set_password, name.strip().lower(), password, role)
    ended = f"; {row['sessions_ended']} sessions ended" if row["sessions_ended"] else ""
    click.echo(f"analyst {row['username']} ({row['role']}) ready{ended}")


@analyst.command("disable")
@click.argument("name")
@click.pass_context
def analyst_disable(ctx: click.Context, name: str) -> None:
    """Disable an analyst: no login any more, every session ended."""
    ended = _with_pool(ctx, analysts.disable, name.strip().lower())
    if ended is None:
        raise click.ClickException(f"no enabled analyst named {name!r}")
    click.echo(f"analyst {name} disabled; {ended} sessions ended")


@analyst.command("sessions")
@click.option("--name", default=None, help="only this analyst's sessions")
@click.option("--revoke", "revoke", default=None, help="end the session with this id")
@click.pass_context
def analyst_sessions(ctx: click.Context, name: str | None, revoke: str | None) -> None:
    """List open analyst sessions (id, analyst, started, last used, expires), or revoke one."""
    if revoke:
        if not _with_pool(ctx, analysts.revoke_session, revoke):
            raise click.ClickException(f"no open session {revoke!r}")
        click.echo(f"session {revoke} revoked")
        return
    for row in _with_pool(ctx, analysts.sessions, name):
        started, seen, ends = (
            row[k].isoformat(timespec="seconds")
            for k in ("created_at", "last_seen_at", "expires_at")
        )
        click.echo(
            f"{row['id']}  {row['username']}  started {started}  last used {seen}  expires {ends}"
        )


@analyst.command("totp-reset")
@click.argument("name")
@click.pass_context
def analyst_totp_reset(ctx: click.Context, name: str) -> None:
    """Remove an analyst's second factor (lost device) and end its sessions."""
    if not _with_pool(ctx, analysts.reset_totp, name.strip().lower()):
        raise click.ClickException(f"no analyst named {name!r}")
    click.echo(f"second factor of {name} removed; it can enrol again after logging in")


def _with_pool(ctx: click.Context, action: Any, *args: Any) -> Any:
    async def go() -> Any:
        async with pool_for(database_url(get_settings(ctx)), min_size=1, max_size=1) as pool:
            return await action(pool, *args)

    return run(go())


@main.group()
def hold() -> None:
    """Law-enforcement holds: nothing is sent about held cases."""


@hold.command("add")
@click.option("--case", "case_id", type=int, help="one case")
@click.option("--hoster", help="every case of a hoster (case_routes.hoster)")
@click.option("--domain", help="every case under a domain")
@click.option("--reason", required=True)
@click.option("--by", "by", default=CLI_ACTOR, help="who asked (recorded in the audit trail)")
@click.pass_context
def hold_add(
    ctx: click.Context,
    case_id: int | None,
    hoster: str | None,
    domain: str | None,
    reason: str,
    by: str,
) -> None:
    """Put a case, a hoster or a domain on hold."""
    scopes = {k: v for k, v in (("case_id", case_id), ("hoster", hoster), ("domain", domain)) if v}
    if len(scopes) != 1:
        raise click.UsageError("give exactly one of --case, --hoster, --domain")
    if "domain" in scopes:
        scopes["domain"] = str(scopes["domain"]).lower()
    placed = run(_place(database_url(get_settings(ctx)), f"cli:{by}", reason, scopes))
    click.echo(f"hold {placed['id']} placed; {placed['cases_held']} case(s) held")


async def _place(dsn: str, actor: str, reason: str, scopes: dict[str, Any]) -> oversee.PlacedHold:
    async with pool_for(dsn, min_size=1, max_size=1) as pool, pool.acquire() as conn:
        return await oversee.place_hold(conn, actor=actor, reason=reason, **scopes)


@hold.command("lift")
@click.argument("hold_id", type=int)
@click.option("--by", "by", default=CLI_ACTOR)
@click.pass_context
def hold_lift(ctx: click.Context, hold_id: int, by: str) -> None:
    """Lift a hold; its cases go back to work."""
    lifted = run(_lift(database_url(get_settings(ctx)), hold_id, f"cli:{by}"))
    if lifted is None:
        raise click.ClickException(f"no active hold {hold_id}")
    click.echo(f"hold {hold_id} lifted; {lifted['cases_released']} case(s) released")


async def _lift(dsn: str, hold_id: int, actor: str) -> oversee.LiftedHold | None:
    async with pool_for(dsn, min_size=1, max_size=1) as pool, pool.acquire() as conn:
        return await oversee.lift_hold(conn, hold_id, actor=actor)


@hold.command("list")
@click.pass_context
def hold_list(ctx: click.Context) -> None:
    """Holds, active first."""
    for h in run(_holds(database_url(get_settings(ctx)))):
        scope = f"case {h['case_id']}" if h["case_id"] else h["hoster"] or h["domain"]
        status = f"lifted by {h['lifted_by']}" if h["lifted_at"] else "ACTIVE"
        click.echo(f"{h['id']:>5}  {status:<20} {scope}  — {h['reason']} ({h['created_by']})")


async def _holds(dsn: str) -> list[oversee.HoldRow]:
    async with pool_for(dsn, min_size=1, max_size=1) as pool:
        return await oversee.holds(pool)


@main.command("stats-by")
@click.option("--by", type=click.Choice(["hoster", "asn", "country"]), default="country")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def stats_by(ctx: click.Context, by: str, as_json: bool) -> None:
    """Time to removal per hoster, ASN or country (notice clock, Kaplan–Meier)."""
    groups, _ = run(_stats_histograms(database_url(get_settings(ctx)), by))
    cards = cards_of_histograms(groups)
    if as_json:
        out = [{**c.__dict__, "median": _secs(c.median), "p90": _secs(c.p90)} for c in cards]
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{by:<28} items  open  median    p90       ≤24h  ≤72h  >42d  back")
    for c in cards:
        click.echo(
            f"{c.group[:28]:<28} {c.items:>5} {c.open:>5}  {human(c.median):<9} {human(c.p90):<9}"
            f" {c.within_24h:>4.0%} {c.within_72h:>5.0%} {c.open_beyond_42d:>5.0%}"
            f" {c.recidivism:>5.0%}"
        )


def _secs(value: Any) -> float | None:
    return value.total_seconds() if value is not None else None


async def _stats_histograms(dsn: str, by: str) -> tuple[list[GroupHistogram], Histogram]:
    """The histograms the statistics page reads (0096 counts + open cases), censored now."""
    async with pool_for(dsn, min_size=1, max_size=1) as pool:
        return await statistics.histograms(pool, by, datetime.now(UTC))
