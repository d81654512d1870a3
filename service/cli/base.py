"""The root command group, shared helpers for async commands, and readable errors."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal, TypeVar

import asyncpg
import click
from pydantic import ValidationError
from pydantic_settings import SettingsError

from service.errors import TakedownError
from service.logging_setup import configure_logging
from service.settings import Settings

T = TypeVar("T")
_SCHEMA_MISMATCH = (
    asyncpg.UndefinedTableError,
    asyncpg.UndefinedColumnError,
    asyncpg.UndefinedFunctionError,
    asyncpg.UndefinedObjectError,
)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; turn our errors into a readable message and exit status 1."""
    try:
        return asyncio.run(coro)
    except TakedownError as exc:
        raise click.ClickException(str(exc)) from exc
    except _SCHEMA_MISMATCH as exc:
        # Commands check the schema when they connect; this catches a database migrated
        # back or altered behind the code's back, without a traceback.
        raise click.ClickException(
            f"the database does not have what this version needs ({exc}); "
            "run `takedown migrate` first"
        ) from exc


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [f"  {_variable(e['loc'])}: {_plain(e['msg'])}" for e in exc.errors()]
        raise click.ClickException("invalid settings:\n" + "\n".join(lines)) from exc
    except SettingsError as exc:  # a list or dict variable that is not valid JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = _variable((field[1],)) if field else "a TAKEDOWN_* variable"
        why = exc.__cause__ or exc
        raise click.ClickException(
            f"invalid settings:\n  {name}: cannot be parsed, expected JSON ({why})"
        ) from exc


def _variable(loc: tuple[int | str, ...]) -> str:
    """`TAKEDOWN_WATCH_AFTER_REMOVAL[1]` for the second item of a list setting."""
    name, *inside = loc
    return f"TAKEDOWN_{str(name).upper()}" + "".join(f"[{part}]" for part in inside)


def _plain(message: str) -> str:
    return message.removeprefix("Value error, ")


def get_settings(ctx: click.Context) -> Settings:
    settings = ctx.obj.get("settings") if ctx.obj else None
    if settings is None:
        settings = load_settings()
        ctx.ensure_object(dict)["settings"] = settings
    return settings


AsyncCommand = Callable[..., Awaitable[Any]]


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object per line with case_id, for log collectors.",
)
@click.pass_context
def main(ctx: click.Context, verbose: int, log_format: Literal["text", "json"]) -> None:
    """Takedown Tracker: get known abuse material taken off the web, and measure how fast."""
    configure_logging(logging.WARNING - 10 * min(verbose, 2), log_format)
    ctx.ensure_object(dict)
