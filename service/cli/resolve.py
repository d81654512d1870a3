"""Resolution commands: the contact book, partner hotlines, and a one-off `resolve URL`.

takedown contacts add --cidr 203.0.113.0/24 --address abuse@host.example --language de
takedown contacts add --domain example.org --do-not-contact --via-hotline NL
takedown contacts list | remove ID
takedown hotlines set NL --name Meldpunt --address meld@hotline.example --policy hotline
takedown hotlines set BE --name ChildFocus --policy forward --url https://tt.example --token T
takedown hotlines list | remove CC
takedown resolve URL          (prints the routing decision; changes no case)
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import asyncpg
import click

from service.cli.base import get_settings, main, run
from service.errors import InvalidInput
from service.resolve.resolver import open_resolver
from service.settings import Settings
from service.usecases import partners, resolve
from service.usecases.store import database_url, pool_for


async def _with_pool(settings: Settings, action: Any) -> Any:
    dsn = database_url(settings)
    async with pool_for(dsn, min_size=1, max_size=2) as pool:
        try:
            return await action(pool)
        except asyncpg.CheckViolationError as exc:
            raise InvalidInput(f"rejected by the database: {exc}") from exc


@main.group()
def contacts() -> None:
    """The contact book: hotline-curated rules that win over lookups."""


@contacts.command("add")
@click.option("--cidr", help="match hosting addresses in this network")
@click.option("--asn", type=int, help="match the origin AS number")
@click.option("--domain", help="match the URL's host and its subdomains")
@click.option("--hoster", help="match the hoster/network name (case-insensitive)")
@click.option("--address", help="preferred notice address")
@click.option("--language", help="notice language, e.g. de")
@click.option("--do-not-contact", is_flag=True, help="never notify the host directly")
@click.option("--via-hotline", metavar="CC", help="report through the hotline of country CC")
@click.option("--cc", multiple=True, help="extra address to copy (repeatable)")
@click.option("--note", help="why this rule exists")
@click.pass_context
def contacts_add(ctx: click.Context, **opts: Any) -> None:
    """Add a rule with exactly one of --cidr/--asn/--domain/--hoster."""
    selectors = [k for k in ("cidr", "asn", "domain", "hoster") if opts[k] is not None]
    if len(selectors) != 1:
        raise click.UsageError("give exactly one of --cidr, --asn, --domain, --hoster")
    if opts["cidr"]:
        try:
            opts["cidr"] = str(ipaddress.ip_network(opts["cidr"], strict=False))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--cidr") from exc
    opts["cc"] = list(opts["cc"])
    rule_id = run(_with_pool(get_settings(ctx), lambda p: resolve.add_contact_rule(p, **opts)))
    click.echo(f"contact rule {rule_id} added")


@contacts.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def contacts_list(ctx: click.Context, as_json: bool) -> None:
    """Show every contact-book rule."""
    rows = run(_with_pool(get_settings(ctx), resolve.contact_rules))
    if as_json:
        click.echo(json.dumps(rows, default=str, indent=1))
        return
    for r in rows:
        match = next(f"{k}={r[k]}" for k in ("cidr", "asn", "domain", "hoster") if r[k] is not None)
        effect = [f"address={r['address']}"] if r["address"] else []
        effect += ["do-not-contact"] if r["do_not_contact"] else []
        effect += [f"via-hotline={r['via_hotline']}"] if r["via_hotline"] else []
        effect += [f"cc={','.join(r['cc'])}"] if r["cc"] else []
        lang = f" lang={r['language']}" if r["language"] else ""
        click.echo(f"{r['id']:>5}  {match:<32} {' '.join(effect)}{lang}")


@contacts.command("remove")
@click.argument("rule_id", type=int)
@click.pass_context
def contacts_remove(ctx: click.Context, rule_id: int) -> None:
    """Remove a contact-book rule."""
    if not run(_with_pool(get_settings(ctx), lambda p: resolve.remove_contact_rule(p, rule_id))):
        raise click.ClickException(f"no contact rule {rule_id}")
    click.echo(f"contact rule {rule_id} removed")


@main.group()
def hotlines() -> None:
    """Partner hotlines and the routing policy per hosting country."""


@hotlines.command("set")
@click.argument("country")
@click.option("--name", required=True)
@click.option("--address", help="where notices for this country go")
@click.option("--language")
@click.option(
    "--policy", type=click.Choice(["direct", "hotline", "both", "forward"]), default="direct"
)
@click.option("--url", help="forward: base URL of the partner's Takedown Tracker")
@click.option("--token", help="forward: the scanner token the partner issued to us")
@click.pass_context
def hotlines_set(ctx: click.Context, country: str, **opts: Any) -> None:
    """Create or replace COUNTRY's hotline (direct | hotline | both | forward)."""
    if len(country) != 2 or not country.isalpha():
        raise click.BadParameter("a two-letter country code", param_hint="COUNTRY")
    if opts["url"] and not opts["url"].startswith(("http://", "https://")):
        raise click.BadParameter("an http:// or https:// URL", param_hint="--url")
    try:
        run(partners.set_hotline_command(get_settings(ctx), country, **opts))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"hotline {country.upper()} set (policy {opts['policy']})")


@hotlines.command("list")
@click.pass_context
def hotlines_list(ctx: click.Context) -> None:
    """Show every partner hotline."""
    for r in run(_with_pool(get_settings(ctx), resolve.hotlines)):
        partner = f" {r['url']}" if r.get("url") else ""
        click.echo(f"{r['country']}  {r['policy']:<8} {r['name']} <{r['address'] or '-'}>{partner}")


@hotlines.command("remove")
@click.argument("country")
@click.pass_context
def hotlines_remove(ctx: click.Context, country: str) -> None:
    """Remove a country's hotline."""
    if not run(_with_pool(get_settings(ctx), lambda p: resolve.remove_hotline(p, country))):
        raise click.ClickException(f"no hotline for {country.upper()}")
    click.echo(f"hotline {country.upper()} removed")


@main.command("resolve")
@click.argument("url")
@click.pass_context
def resolve_command(ctx: click.Context, url: str) -> None:
    """Print the routing decision for URL as JSON (no case is changed)."""
    click.echo(json.dumps(run(_resolve(get_settings(ctx), url)), indent=1, default=str))


async def _resolve(settings: Settings, url: str) -> dict[str, Any]:
    dsn = database_url(settings)
    async with pool_for(dsn, min_size=1, max_size=4) as pool, open_resolver(pool, settings) as r:
        result = await r.resolve(url)
    return {"route": result.route, "detail": result.detail}
