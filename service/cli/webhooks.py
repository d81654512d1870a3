"""`takedown webhook add|list|remove`: scanners' outcome receivers."""

from __future__ import annotations

import click

from service.cli.base import get_settings, main, run
from service.settings import Settings
from service.usecases import webhooks
from service.usecases.database import command_pool


@main.group()
def webhook() -> None:
    """Receivers of a scanner's outcomes (signed as Standard Webhooks)."""


@webhook.command("add")
@click.option("--scanner", required=True, help="Name of the scanner token whose outcomes go out.")
@click.option("--url", required=True, help="The receiver, http(s)://…")
@click.pass_context
def webhook_add(ctx: click.Context, scanner: str, url: str) -> None:
    """Add a receiver and print its signing secret once."""
    added = run(_add(get_settings(ctx), scanner, url))
    click.echo(added.secret)
    click.echo(
        f"webhook {added.id} for {scanner!r} → {url}; store the secret now, it is not shown again",
        err=True,
    )


async def _add(settings: Settings, scanner: str, url: str) -> webhooks.NewWebhook:
    async with command_pool(settings) as pool:
        try:
            return await webhooks.add_webhook(pool, scanner, url, actor="cli")
        except webhooks.WebhookError as exc:
            raise click.ClickException(str(exc)) from None


@webhook.command("list")
@click.option("--scanner", default=None, help="Only this scanner's receivers.")
@click.pass_context
def webhook_list(ctx: click.Context, scanner: str | None) -> None:
    """List live receivers with their pending, delivered and parked deliveries."""
    rows = run(_list(get_settings(ctx), scanner))
    for row in rows:
        click.echo(
            f"{row['id']:<5} {row['scanner']:<20} {row['url']}  pending={row['pending']}"
            f" delivered={row['delivered']} parked={row['parked']}"
        )
    if not rows:
        click.echo("no webhooks", err=True)


async def _list(settings: Settings, scanner: str | None) -> list[webhooks.WebhookListing]:
    async with command_pool(settings) as pool:
        try:
            return await webhooks.list_webhooks(pool, scanner)
        except webhooks.WebhookError as exc:
            raise click.ClickException(str(exc)) from None


@webhook.command("remove")
@click.argument("webhook_id", type=int)
@click.pass_context
def webhook_remove(ctx: click.Context, webhook_id: int) -> None:
    """Stop the receiver WEBHOOK_ID (its delivery record stays)."""
    if not run(_remove(get_settings(ctx), webhook_id)):
        raise click.ClickException(f"no live webhook {webhook_id}")
    click.echo(f"webhook {webhook_id} removed")


async def _remove(settings: Settings, webhook_id: int) -> bool:
    async with command_pool(settings) as pool:
        return await webhooks.remove_webhook(pool, webhook_id)
