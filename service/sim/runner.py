"""Starts a whole simulated internet on loopback and says how to point the service at it.

async with SimulatedInternet(World.default(), time_scale=0) as net:
    settings = Settings(**net.settings_overrides(), ...)
    net.clock.advance(3600)            # an hour passes for every hoster
    net.mail.messages                  # notices received
    net.rdap.counts["ip"]              # RDAP queries served
    net.dns.faults.set("example.com", "servfail")
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from service.sim.behaviour import WorldState
from service.sim.clock import SimClock
from service.sim.cloudflare import ACCOUNT, TOKEN, CloudflareApi
from service.sim.dns import DnsServer
from service.sim.dnszone import Zones
from service.sim.mailbot import MailBot
from service.sim.rdap import RateLimit, RdapServer
from service.sim.rdap_corpus import load_corpus
from service.sim.smtp import MailSink, SmtpServer
from service.sim.web import WebProxy
from service.sim.world import World

log = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"


class SimulatedInternet:
    """DNS, RDAP, the hosters' web (behind a proxy) and mail, all on ephemeral loopback ports.

    `time_scale` overrides the world's (simulated seconds per real second; 0 = frozen,
    only `clock.advance()` moves time). `corpus_dir` adds the recorded RDAP responses.
    `rate_limits` replaces the registries' default per-client limits ({} disables them).
    """

    def __init__(
        self,
        world: World,
        corpus_dir: str | Path | None = None,
        time_scale: float | None = None,
        zones: Zones | None = None,
        rate_limits: dict[str, RateLimit] | None = None,
        extra_mailboxes: set[str] | None = None,
    ) -> None:
        self.world = world
        self.clock = SimClock(world.time_scale if time_scale is None else time_scale)
        self.state = WorldState(world, self.clock)
        self.zones = zones or Zones()
        corpus = load_corpus(corpus_dir)
        self.dns = DnsServer(world, self.zones, corpus.origins, host=LOOPBACK)
        self.rdap = RdapServer(world, self.clock, corpus, rate_limits, host=LOOPBACK)
        self.web = WebProxy(self.state, host=LOOPBACK)
        self.cloudflare = CloudflareApi(self.state, host=LOOPBACK)
        self.mail = MailSink(world.mailboxes() | (extra_mailboxes or set()), self.clock.now)
        self.smtp = SmtpServer(self.mail, host=LOOPBACK)
        self.bot = MailBot(self.state)
        self.mail.on_message = self.bot.on_message

    async def start(self) -> None:
        await self.dns.start()
        await self.rdap.start()
        await self.web.start()
        await self.cloudflare.start()
        await self.smtp.start()
        log.info("simulated internet up: %s", self.describe())

    async def stop(self) -> None:
        await self.bot.close()
        await self.smtp.stop()
        await self.cloudflare.stop()
        await self.web.stop()
        await self.rdap.stop()
        await self.dns.stop()

    async def __aenter__(self) -> SimulatedInternet:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- addresses ----------------------------------------------------------------------------
    @property
    def dns_address(self) -> str:
        return self.dns.address

    @property
    def rdap_url(self) -> str:
        return self.rdap.url

    @property
    def proxy_url(self) -> str:
        return self.web.url

    @property
    def smtp_host(self) -> str:
        return self.smtp.host

    @property
    def smtp_port(self) -> int:
        return self.smtp.port

    def settings_overrides(self) -> dict[str, Any]:
        """Settings field values that point the service at this world (and nowhere else)."""
        return {
            "dns_nameservers": [self.dns_address],
            "rdap_bootstrap_url": self.rdap_url,
            "probe_proxy": self.proxy_url,
            "smtp_host": self.smtp_host,
            "smtp_port": self.smtp_port,
            "smtp_tls": "none",
            "abusix_zone": self.zones.abusix,
            "cymru_origin_zone": self.zones.cymru_origin,
            "cymru_origin6_zone": self.zones.cymru_origin6,
            "cymru_asn_zone": self.zones.cymru_asn,
            # World addresses are public, so the probe's SSRF guard can stay on.
            "allow_private_targets": False,
            # The CDN's abuse-report API (a case behind the world's Cloudflare uses it).
            "cloudflare_api_url": self.cloudflare.url,
            "cloudflare_account_id": ACCOUNT,
            "cloudflare_api_token": TOKEN,
        }

    def environment(self) -> dict[str, str]:
        """The same as `TAKEDOWN_*` environment variables."""
        return {f"TAKEDOWN_{k.upper()}": _env_text(v) for k, v in self.settings_overrides().items()}

    def describe(self) -> str:
        return (
            f"dns={self.dns_address} rdap={self.rdap_url} proxy={self.proxy_url} "
            f"smtp={self.smtp_host}:{self.smtp_port}"
        )


def _env_text(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
