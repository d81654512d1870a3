"""The Abusix abuse-contact DNS zone: a second opinion on who handles abuse for an address.

TXT at the reversed octets (IPv4) or 32 reversed nibbles (IPv6) under the zone; the strings
are joined and split on commas. Abusix answers from the largest allocation, so a reseller's
own desk can be missed: RDAP stays first and Abusix confirms or fills a gap.
"""

from __future__ import annotations

from service.domain.placeholders import is_placeholder, normalise_address
from service.resolve.cymru import reversed_labels
from service.resolve.dns import DnsClient


class AbusixClient:
    """Abuse addresses of an IP from the Abusix zone (empty zone = disabled)."""

    def __init__(self, dns: DnsClient, zone: str) -> None:
        self.dns = dns
        self.zone = zone.strip(".")

    @property
    def enabled(self) -> bool:
        return bool(self.zone)

    async def contacts(self, ip: str) -> tuple[str, ...]:
        if not self.zone:
            return ()
        answers = await self.dns.txt(f"{reversed_labels(ip)}.{self.zone}", "abusix")
        found = []
        for part in ",".join(answers or []).split(","):
            if part.strip() and not is_placeholder(part):
                found.append(normalise_address(part))
        return tuple(dict.fromkeys(found))
