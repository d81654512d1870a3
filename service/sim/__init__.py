"""The simulated internet: real protocol peers on loopback, described by a world file.

    from service.sim import SimulatedInternet, World, generate_world

    async with SimulatedInternet(World.default(), time_scale=0) as net:
        settings = Settings(**net.settings_overrides())   # DNS, RDAP, proxy, SMTP
        for report in scanner.reports(net.world): ...     # what a scanner submits
        net.clock.advance(86400)                          # a day passes for every hoster
        net.mail.messages; net.state.acks                 # notices received, acks given
        net.rdap.counts["ip"]; net.rdap.faults.add("429", registry="ripe", count=3)
        net.dns.faults.set("example.com", "servfail"); net.web.register_custom(host, handler)

Nothing here ever connects to a non-loopback address; world addresses are public space
that only exists in the world's data. The service never imports this package.
"""

from __future__ import annotations

from service.sim.behaviour import Phase, UrlTruth, WorldState
from service.sim.clock import SimClock
from service.sim.generator import generate_world
from service.sim.runner import SimulatedInternet
from service.sim.world import World

__all__ = [
    "Phase",
    "SimClock",
    "SimulatedInternet",
    "UrlTruth",
    "World",
    "WorldState",
    "generate_world",
]
