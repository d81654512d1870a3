"""The root command group, shared helpers for async commands, and readable errors."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from service.errors import TakedownError
from service.settings import Settings

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; turn our errors into a readable message and exit status 1."""
    try:
        return asyncio.run(coro)
    except TakedownError as exc:
        raise click.ClickException(str(exc)) from exc


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"  TAKEDOWN_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        ]
        raise click.ClickException("invalid settings:\n" + "\n".join(lines)) from exc


def get_settings(ctx: click.Context) -> Settings:
    settings = ctx.obj.get("settings") if ctx.obj else None
    if settings is None:
        settings = load_settings()
        ctx.ensure_object(dict)["settings"] = settings
    return settings


AsyncCommand = Callable[..., Awaitable[Any]]


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """Takedown Tracker: get known abuse material taken off the web, and measure how fast."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctx.ensure_object(dict)
