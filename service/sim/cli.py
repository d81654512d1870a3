"""`takedown sim …`: run a simulated world alone, for manual testing against a service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

import click

from service.sim.generator import generate_world
from service.sim.rdap_corpus import checkout_corpus
from service.sim.runner import SimulatedInternet
from service.sim.world import World


@click.group()
def sim() -> None:
    """The simulated internet (DNS, RDAP, hosters' web behind a proxy, mail) on loopback."""


@sim.command()
@click.option(
    "--world",
    "world_file",
    type=click.Path(exists=True, dir_okay=False),
    help="World file (.yaml/.json); default: the bundled small world.",
)
@click.option("--seed", type=int, help="Generate a world from this seed instead.")
@click.option("--hosters", type=int, default=20, show_default=True)
@click.option("--urls", type=int, default=200, show_default=True)
@click.option("--time-scale", type=float, help="Simulated seconds per real second.")
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False),
    help="Recorded RDAP responses to serve too (default: ../shared/rdap-corpus of a checkout).",
)
def serve(
    world_file: str | None,
    seed: int | None,
    hosters: int,
    urls: int,
    time_scale: float | None,
    corpus: str | None,
) -> None:
    """Run a world until interrupted; print its addresses and TAKEDOWN_* lines."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if seed is not None:
        world = generate_world(seed, hosters=hosters, urls=urls)
    else:
        world = World.load(world_file) if world_file else World.default()
    corpus_dir = corpus or checkout_corpus()
    asyncio.run(_serve(world, corpus_dir, time_scale))


async def _serve(world: World, corpus: str | Path | None, time_scale: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with SimulatedInternet(world, corpus_dir=corpus, time_scale=time_scale) as net:
        click.echo(
            f"world {world.name}: {len(world.hosters)} hosters, {len(world.urls)} urls, "
            f"time scale {net.clock.time_scale:g}"
        )
        click.echo(f"dns   {net.dns_address} (udp+tcp)")
        click.echo(f"rdap  {net.rdap_url}")
        click.echo(f"proxy {net.proxy_url}")
        click.echo(f"smtp  {net.smtp_host}:{net.smtp_port}")
        click.echo("")
        for key, value in net.environment().items():
            click.echo(f"export {key}={value}")
        click.echo("\nCtrl-C stops the world.")
        await stop.wait()
