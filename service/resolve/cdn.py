"""Is a CDN (or reverse proxy) in front of the host? Shipped ranges, ASNs and names.

A CDN answers for content it does not host: the notice goes to its abuse desk, which must
forward it to the origin host, and the origin stays unknown until learned (a hoster's "not
ours, it is X" answer or an analyst). The list ships with the package (`data/cdn_ranges.json`)
and a refreshed copy in `settings.resolve_data_dir` wins.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from service.domain.routing import Cdn

IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class CdnEntry:
    name: str
    abuse: str | None
    asns: frozenset[int]
    names: tuple[str, ...]
    ranges: tuple[tuple[int, int, int], ...]  # (version, first, last) as integers: fast


def load_cdn_data(data_dir: Path | None = None) -> dict[str, Any]:
    if data_dir is not None and (data_dir / "cdn_ranges.json").is_file():
        loaded: dict[str, Any] = json.loads((data_dir / "cdn_ranges.json").read_text("utf-8"))
        return loaded
    text = (resources.files("service.resolve") / "data" / "cdn_ranges.json").read_text("utf-8")
    shipped: dict[str, Any] = json.loads(text)
    return shipped


class CdnDetector:
    """Matches an address, its origin ASN and the registry's names against known CDNs."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.entries = [
            CdnEntry(
                e["name"],
                e.get("abuse"),
                frozenset(e.get("asns", [])),
                tuple(n.lower() for n in e.get("names", [])),
                tuple(_bounds(ipaddress.ip_network(r)) for r in e.get("ranges", [])),
            )
            for e in data.get("cdns", [])
        ]
        patterns = data.get("generic_name_patterns", [])
        self.generic = re.compile("|".join(map(re.escape, patterns)), re.I) if patterns else None

    def detect(self, ip: str, asn: int | None, names: list[str | None]) -> Cdn | None:
        address = ipaddress.ip_address(ip)
        version, value = address.version, int(address)
        for entry in self.entries:
            if any(v == version and lo <= value <= hi for v, lo, hi in entry.ranges):
                return Cdn(entry.name, entry.abuse, "published ranges")
        for entry in self.entries:
            if asn is not None and asn in entry.asns:
                return Cdn(entry.name, entry.abuse, f"origin AS{asn}")
        text = " ".join(n for n in names if n).lower()
        for entry in self.entries:
            if any(n in text for n in entry.names):
                return Cdn(entry.name, entry.abuse, "registry name")
        if self.generic is not None and self.generic.search(text):
            label = next(n for n in names if n and self.generic.search(n))
            return Cdn(label, None, "registry name")  # abuse desk: the network's own contact
        return None


def _bounds(net: IpNet) -> tuple[int, int, int]:
    return net.version, int(net.network_address), int(net.broadcast_address)
