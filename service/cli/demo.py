"""`takedown demo`: the whole lifecycle against a simulated internet, a week in about a minute.

Starts the database (embedded unless TAKEDOWN_DATABASE_URL is set), a simulated world on
loopback, and the service (API + every worker stage) with its clock compressed by the world's
time scale; submits the world's URLs as a scanner would, shows progress live, and prints what
happened per hoster and what the scanner's webhook receiver took. Nothing leaves this machine.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import click
from pydantic import SecretStr

from service.cli.base import get_settings, main, run
from service.cli.demo_summary import progress_line, summary_table
from service.cli.runtime import Runtime
from service.notify.lmtp import LmtpServer
from service.settings import Settings
from service.sim.webhook_receiver import WebhookReceiver
from service.usecases import analysts
from service.usecases.mail import mail_counts, take_in_or_set_aside
from service.usecases.store import create_database, database_url, pool_for
from service.usecases.tokens import create_token
from service.usecases.webhooks import add_webhook
from service.workers.registry import available_stages

# Durations that must not shrink with simulated time. Some bound real work (a lease, the
# clock skew of real timestamps); the others are lived through by a person at the demo's
# pages, in real seconds: the analyst's session and its idle timeout (8 h would end ~3 s
# after login at the default scale) and how long an acknowledgment link works. Login
# throttles are rates per real minute/hour and are never scaled.
REAL_TIME_FIELDS = {
    "lease",
    "max_clock_skew",
    "db_connect_timeout",
    "analyst_session_ttl",
    "analyst_session_idle",
    "ack_token_ttl",
}


@main.command("demo")
@click.option(
    "--world",
    "world_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A world file (YAML/JSON); default: the small built-in world.",
)
@click.option(
    "--duration",
    type=click.FloatRange(5, 3600),
    default=60.0,
    show_default=True,
    help="Real seconds to run the lifecycle.",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(1, 1e7),
    default=None,
    help="Simulated seconds per real second (default: the world's).",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Recorded RDAP responses to serve too (default: ../shared/rdap-corpus of a checkout).",
)
@click.option(
    "--exit/--keep-serving",
    "exit_after",
    default=None,
    help="Exit after the summary (default when not on a terminal) or keep serving.",
)
@click.pass_context
def demo_command(
    ctx: click.Context,
    world_file: Path | None,
    duration: float,
    time_scale: float | None,
    corpus: Path | None,
    exit_after: bool | None,
) -> None:
    """Run the end-to-end demo against a simulated internet."""
    # The simulated world (images, PDQ, numpy) is loaded by the demo alone, not by every command.
    from service.sim.rdap_corpus import checkout_corpus
    from service.sim.world import World

    world = World.load(world_file) if world_file else World.default()
    scale = time_scale or world.time_scale or 10080.0
    keep = not exit_after if exit_after is not None else sys.stdout.isatty()
    # The world's own RDAP objects suffice; recorded responses are an extra when at hand.
    run(_demo(get_settings(ctx), world, scale, duration, keep, corpus or checkout_corpus()))


def compress(settings: Settings, scale: float) -> dict[str, Any]:
    """Every lifecycle interval divided by the time scale."""
    changed: dict[str, Any] = {}
    for name, value in settings.model_dump().items():
        if name in REAL_TIME_FIELDS:
            continue
        if isinstance(value, timedelta):
            changed[name] = value / scale
        elif isinstance(value, list) and value and all(isinstance(v, timedelta) for v in value):
            changed[name] = [v / scale for v in value]
        elif (
            isinstance(value, dict)
            and value
            and all(isinstance(v, timedelta) for v in value.values())
        ):
            changed[name] = {k: v / scale for k, v in value.items()}
    return changed


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise click.ClickException("no free TCP port on 127.0.0.1")


async def _demo(
    base: Settings, world: Any, scale: float, duration: float, keep: bool, corpus: Path | None
) -> None:
    from service.sim.runner import SimulatedInternet

    dsn = await _demo_database(base)
    port = _free_port(base.listen_port)
    async with SimulatedInternet(world, corpus_dir=corpus, time_scale=scale) as net:
        settings = base.model_copy(
            update={
                **compress(base, scale),
                **net.settings_overrides(),
                "database_url": SecretStr(dsn),
                "listen": f"127.0.0.1:{port}",
                "public_url": f"http://127.0.0.1:{port}",
                "worker_poll_interval": 0.05,
                "webhook_poll_interval": 0.2,
                "drain_timeout": 2.0,
                # The scanner's webhook receiver runs on loopback; the world's hosters stay
                # on public addresses (reached through the proxy) whatever this says.
                "allow_private_targets": True,
                # Per-notice return paths, so the hosters' bounces come back attributed.
                "verp_domain": base.verp_domain or "bounces.hotline.example",
                "verp_secret": base.verp_secret or SecretStr(secrets.token_urlsafe(24)),
            }
        )
        stages = available_stages()
        click.echo(f"simulated internet: {net.describe()}")
        click.echo(
            f"world {world.name!r}: {len(world.hosters)} hosters, {len(world.urls)} URLs; "
            f"1 real second = {scale / 3600:.1f} simulated hours; stages: {', '.join(stages)}"
        )
        async with (
            Runtime(settings, stages, http=True) as runtime,
            WebhookReceiver() as receiver,
            _mail_in(runtime.pool, settings) as lmtp,
        ):
            assert runtime.pool is not None
            # The hosters' mail systems answer through the real mail path: mail-in over LMTP.
            net.bot.mail_back = (lmtp.host, lmtp.port)
            click.echo(f"mail-in: LMTP on {lmtp.host}:{lmtp.port} (the hosters' replies)")
            submitted = await _submit(runtime.pool, settings, world, receiver)
            click.echo(f"scanner submitted {submitted} reports; its webhook: {receiver.url}")
            await _watch(runtime.pool, duration, scale)
            click.echo(await summary_table(runtime.pool, scale))
            # What mail-in counts is what the hosters' mail systems sent back: they send no new
            # mail while it is counted, and the mail on its way is delivered first (an LMTP
            # delivery is answered once the mail was taken in).
            net.bot.mail_back = None
            await net.bot.mail_delivered()
            click.echo(await _mail_summary(runtime.pool, net.bot.sent_back))
            net.bot.mail_back = (lmtp.host, lmtp.port)
            click.echo("\n" + receiver.summary())
            click.echo("\n".join(receiver.last(5)))
            click.echo(
                f"\nAPI: {settings.public_url}/api/v1/openapi.json   "
                f"oversight: {settings.public_url}/oversight/"
            )
            password = await _demo_analyst(runtime.pool)
            click.echo(f"log in as 'demo' (supervisor) with password {password}")
            if keep:
                click.echo("serving until Ctrl-C …")
                await _until_interrupted()


@asynccontextmanager
async def _mail_in(pool: Any, settings: Settings) -> AsyncIterator[LmtpServer]:
    """`takedown mail-in --lmtp` inside the demo: every mail is taken in like in production."""

    async def take(raw: bytes, recipients: Sequence[str]) -> None:
        await take_in_or_set_aside(pool, settings, raw, recipients, channel="lmtp")

    server = LmtpServer(take, "127.0.0.1", 0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _mail_summary(pool: Any, sent_back: Mapping[Any, int]) -> str:
    counts = await mail_counts(pool)
    sent = sum(sent_back.values())
    return (
        f"mail-in: {counts.get('bounce', 0)} bounces, {counts.get('auto_reply', 0)} auto-replies, "
        f"{counts.get('reply', 0)} replies taken in ({sent} sent back by the hosters' mail systems)"
    )


async def _demo_database(base: Settings) -> str:
    """A fresh database per demo run on the embedded server; the configured one as it is."""
    dsn = database_url(base)
    if base.dsn:
        return dsn
    return await create_database(dsn, f"demo_{int(time.time())}")


async def _submit(pool: Any, settings: Settings, world: Any, receiver: WebhookReceiver) -> int:
    name = f"demo-scanner-{int(time.time())}"
    _token, secret = await create_token(pool, name, "scanner")
    receiver.secret = (await add_webhook(pool, name, receiver.url, actor="demo")).secret
    from service.sim.scanner import reports as scanner_reports  # loads images/PDQ: demo only

    reports = list(scanner_reports(world))
    headers = {"Authorization": f"Bearer {secret}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for i in range(0, len(reports), 500):
            async with session.post(
                f"{settings.public_url}/api/v1/reports", json={"reports": reports[i : i + 500]}
            ) as resp:
                if resp.status != 202:
                    raise click.ClickException(
                        f"intake refused the demo reports: {await resp.text()}"
                    )
    return len(reports)


async def _demo_analyst(pool: Any) -> str:
    """A supervisor account for this demo database, with a fresh password shown once."""
    password = secrets.token_urlsafe(12)
    await analysts.set_password(pool, "demo", password, "supervisor")
    return password


async def _watch(pool: Any, duration: float, scale: float) -> None:
    start = time.monotonic()
    tty = sys.stdout.isatty()
    last = ""
    while (elapsed := time.monotonic() - start) < duration:
        line = await progress_line(pool, elapsed * scale)
        if tty:
            click.echo("\r" + line.ljust(100), nl=False)
        elif line != last:
            click.echo(line)
        last = line
        await asyncio.sleep(1.0)  # a display refresh, not synchronisation
    click.echo("")


async def _until_interrupted() -> None:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


__all__ = ["compress", "demo_command", "pool_for"]
