"""`takedown mail-in`: the hotline's mailbox read (IMAP) or delivered to us (LMTP)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import click

from service.cli.base import get_settings, main, run
from service.notify.lmtp import LmtpServer
from service.notify.mailbox import read_mailbox
from service.settings import Settings, listen_address
from service.usecases.mail import mailroom, take_in_or_set_aside

log = logging.getLogger(__name__)


@main.command("mail-in")
@click.option(
    "--lmtp",
    metavar="HOST:PORT",
    default=None,
    help="Listen as an LMTP server (for an MTA that delivers to us) instead of reading IMAP.",
)
@click.option("--once", is_flag=True, help="IMAP: take in what the mailbox holds, then exit.")
@click.pass_context
def mail_in_command(ctx: click.Context, lmtp: str | None, once: bool) -> None:
    """Take in bounces, auto-replies and replies: from the IMAP mailbox (TAKEDOWN_IMAP_*,
    IDLE where offered, processed mail moved to TAKEDOWN_IMAP_DONE_FOLDER) or over LMTP. A mail
    that failed TAKEDOWN_MAIL_IN_MAX_ATTEMPTS times is set aside (TAKEDOWN_IMAP_QUARANTINE_FOLDER;
    554 over LMTP)."""
    settings = get_settings(ctx)
    if lmtp is not None:
        try:
            host, port = listen_address(lmtp)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--lmtp") from exc
        run(_lmtp(settings, host, port))
        return
    if not settings.imap_host:
        raise click.UsageError("set TAKEDOWN_IMAP_HOST (the mailbox to read) or use --lmtp")
    run(_imap(settings, once=once))


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)  # signals only set the stop event
    return stop


def _handler(
    pool: asyncpg.Pool, settings: Settings, channel: str
) -> Callable[[bytes, Sequence[str]], Awaitable[None]]:
    async def handle(raw: bytes, recipients: Sequence[str] = ()) -> None:
        summary = await take_in_or_set_aside(pool, settings, raw, recipients, channel=channel)
        # what the mail was and what became of it; never its contents
        log.info(
            "mail-in: %s %s (matched by %s)",
            summary.get("kind"),
            summary.get("action"),
            summary.get("matched_by"),
        )

    return handle


async def _imap(settings: Settings, *, once: bool) -> None:
    stop = _stop_on_signals()
    async with mailroom(settings) as pool:
        total = await read_mailbox(settings, _handler(pool, settings, "imap"), stop, once=once)
    click.echo(
        f"mail-in: {total.handled} taken in, {total.failed} kept for a retry, "
        f"{total.set_aside} set aside in {settings.imap_quarantine_folder}",
        err=True,
    )


async def _lmtp(settings: Settings, host: str, port: int) -> None:
    stop = _stop_on_signals()
    async with mailroom(settings) as pool:
        server = LmtpServer(_handler(pool, settings, "lmtp"), host, port)
        await server.start()
        click.echo(f"mail-in: LMTP on {host}:{server.port}", err=True)
        try:
            await stop.wait()
        finally:
            await server.stop()
