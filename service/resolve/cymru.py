"""Team Cymru's IP-to-ASN DNS zones: origin ASN, BGP prefix, country and registry of an IP.

`<reversed-ip>.origin.asn.cymru.com` (IPv6: `origin6`, 32 reversed nibbles) answers
"ASN | prefix | CC | registry | date"; `AS<n>.asn.cymru.com` answers
"ASN | CC | registry | date | name". An empty zone setting disables the source.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from service.resolve.dns import DnsClient
from service.settings import Settings


@dataclass(frozen=True)
class Origin:
    """What the routing table says about an address."""

    asn: int | None
    prefix: str | None
    country: str | None
    registry: str | None
    as_name: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "asn": self.asn,
            "prefix": self.prefix,
            "country": self.country,
            "registry": self.registry,
            "as_name": self.as_name,
        }


def reversed_labels(ip: str) -> str:
    """Reversed octets (IPv4) or the 32 reversed nibbles (IPv6), dot-separated."""
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return ".".join(reversed(str(address).split(".")))
    return ".".join(reversed(address.exploded.replace(":", "")))


def _fields(text: str) -> list[str]:
    return [part.strip() for part in text.split("|")]


def _asn(text: str) -> int | None:
    first = text.split()[0] if text.split() else ""
    return int(first) if first.isdigit() else None


def parse_origin(text: str) -> Origin:
    parts = _fields(text) + [""] * 5
    country = parts[2].upper() if len(parts[2]) == 2 else None
    return Origin(_asn(parts[0]), parts[1] or None, country, parts[3].lower() or None)


class CymruClient:
    """Origin and AS-name lookups over DNS."""

    def __init__(self, dns: DnsClient, settings: Settings) -> None:
        self.dns = dns
        self.origin_zone = settings.cymru_origin_zone
        self.origin6_zone = settings.cymru_origin6_zone
        self.asn_zone = settings.cymru_asn_zone

    async def origin(self, ip: str) -> Origin | None:
        zone = self.origin_zone if ipaddress.ip_address(ip).version == 4 else self.origin6_zone
        if not zone:
            return None
        answers = await self.dns.txt(f"{reversed_labels(ip)}.{zone}", "cymru")
        if not answers:
            return None
        origin = parse_origin(answers[0])
        name = await self.as_name(origin.asn) if origin.asn is not None else None
        return Origin(origin.asn, origin.prefix, origin.country, origin.registry, name)

    async def as_name(self, asn: int) -> str | None:
        if not self.asn_zone:
            return None
        answers = await self.dns.txt(f"AS{asn}.{self.asn_zone}", "cymru")
        if not answers:
            return None
        parts = _fields(answers[0])
        return parts[4] if len(parts) > 4 and parts[4] else None
