"""Core commands: migrate, token, import, serve, worker."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click
from pydantic import SecretStr

from service.cli.base import get_settings, main, run
from service.cli.importer import import_file
from service.cli.ops import refuse_example_secrets
from service.cli.runtime import Runtime
from service.settings import Settings
from service.usecases import tokens as token_store
from service.usecases.store import database_url, migrate, pool_for
from service.workers.registry import STAGE_MODULES, available_stages


@main.command("migrate")
@click.pass_context
def migrate_command(ctx: click.Context) -> None:
    """Apply pending database migrations (safe to run any number of times)."""
    settings = get_settings(ctx)
    applied = run(_migrate(database_url(settings), settings.db_connect_timeout))
    if applied:
        for name in applied:
            click.echo(f"applied {name}")
    else:
        click.echo("database schema is up to date")


async def _migrate(dsn: str, retry_for: float) -> list[str]:
    async with (
        pool_for(dsn, migrated=False, min_size=1, max_size=1, retry_for=retry_for) as pool,
        pool.acquire() as conn,
    ):
        return [f"{m.version:04d}_{m.name}" for m in await migrate(conn)]


@main.group()
def token() -> None:
    """Manage API tokens (scanner, hotline, supervisor, probe)."""


@token.command("create")
@click.option("--role", type=click.Choice(token_store.ROLES), required=True)
@click.option("--name", required=True, help="Who holds it, e.g. the scanner's name.")
@click.pass_context
def token_create(ctx: click.Context, role: str, name: str) -> None:
    """Create a token and print its secret once (only its hash is stored)."""
    secret = run(_create_token(database_url(get_settings(ctx)), name, role))
    click.echo(secret)
    click.echo(f"token {name!r} ({role}) created; store the secret now, it is not kept", err=True)


async def _create_token(dsn: str, name: str, role: str) -> str:
    async with pool_for(dsn, min_size=1, max_size=1) as pool:
        try:
            _token, secret = await token_store.create_token(pool, name, role)
        except token_store.TokenRefused as exc:
            raise click.ClickException(str(exc)) from None
    return secret


@token.command("revoke")
@click.argument("name")
@click.pass_context
def token_revoke(ctx: click.Context, name: str) -> None:
    """Revoke the live token called NAME."""
    if not run(_revoke(database_url(get_settings(ctx)), name)):
        raise click.ClickException(f"no live token named {name!r}")
    click.echo(f"token {name!r} revoked")


async def _revoke(dsn: str, name: str) -> bool:
    async with pool_for(dsn, min_size=1, max_size=1) as pool:
        return await token_store.revoke_token(pool, name)


@token.command("list")
@click.pass_context
def token_list(ctx: click.Context) -> None:
    """List tokens (never their secrets)."""
    for row in run(_list(database_url(get_settings(ctx)))):
        state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "live"
        click.echo(
            f"{row['name']:<30} {row['role']:<8} {row['created_at']:%Y-%m-%d %H:%M}  {state}"
        )


async def _list(dsn: str) -> list[dict[str, object]]:
    async with pool_for(dsn, min_size=1, max_size=1) as pool:
        return await token_store.list_tokens(pool)


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--scanner", required=True, help="Name of the scanner token the reports belong to.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 10000))
@click.option("--progress/--no-progress", default=True)
@click.pass_context
def import_command(
    ctx: click.Context, file: Path, scanner: str, batch_size: int, progress: bool
) -> None:
    """Bulk-import reports from an NDJSON file (one report object per line)."""
    settings = get_settings(ctx)
    summary = run(
        import_file(database_url(settings), settings, file, scanner, batch_size, progress)
    )
    click.echo(summary.render())
    if summary.rejected:
        ctx.exit(1)


@main.command("worker")
@click.option("--stages", default=None, help="Comma-separated stages; default: all available.")
@click.option("--concurrency", type=click.IntRange(1, 1000), default=None)
@click.pass_context
def worker_command(ctx: click.Context, stages: str | None, concurrency: int | None) -> None:
    """Run workers only (start as many as you like, on as many hosts)."""
    settings = get_settings(ctx)
    refuse_example_secrets(settings)
    if concurrency:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    names = _stage_names(stages)
    run(_serve(settings, names, http=False))


@main.command("serve")
@click.option("--stages", default=None, help="Comma-separated stages; default: all available.")
@click.pass_context
def serve_command(ctx: click.Context, stages: str | None) -> None:
    """Run the HTTP server and the workers in one process."""
    settings = get_settings(ctx)
    refuse_example_secrets(settings)
    run(_serve(settings, _stage_names(stages), http=True))


def _stage_names(stages: str | None) -> list[str]:
    if stages is None:
        return available_stages()
    names = [s.strip() for s in stages.split(",") if s.strip()]
    unknown = [n for n in names if n not in STAGE_MODULES]
    if unknown:
        raise click.BadParameter(f"unknown stage(s): {', '.join(unknown)}", param_hint="--stages")
    return names


async def _serve(settings: Settings, stages: list[str], *, http: bool) -> None:
    settings = settings.model_copy(update={"database_url": SecretStr(database_url(settings))})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)  # signals only set the stop event
    async with Runtime(settings, stages, http=http) as runtime:
        click.echo(runtime.describe(), err=True)
        await stop.wait()
