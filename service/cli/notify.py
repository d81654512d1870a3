"""`takedown bounces FILE.eml`: apply delivery status notifications saved as files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from service.cli.base import get_settings, main, run
from service.notify.bounces import apply_bounce, parse_bounce
from service.settings import Settings
from service.usecases.store import database_url, pool_for


@main.command("bounces")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def bounces_command(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Match bounce messages (RFC 3464 DSNs) to notices and move their items on."""
    settings = get_settings(ctx)
    messages = [(name, Path(name).read_bytes()) for name in files]
    for name, summary in run(_apply(database_url(settings), settings, messages)):
        click.echo(f"{name}: {json.dumps(summary, sort_keys=True)}")


async def _apply(
    dsn: str, settings: Settings, messages: list[tuple[str, bytes]]
) -> list[tuple[str, dict[str, object]]]:
    results = []
    async with pool_for(dsn, min_size=1, max_size=1) as pool, pool.acquire() as conn:
        for name, raw in messages:
            bounce = parse_bounce(raw)
            results.append((name, await apply_bounce(conn, settings, bounce)))
    return results
