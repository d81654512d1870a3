"""IANA RDAP bootstrap registries: which RDAP server answers for an address, ASN or domain.

The files (`ipv4.json`, `ipv6.json`, `asn.json`, `dns.json`, in IANA's own format) ship with
the package; a refreshed copy in `settings.resolve_data_dir` wins. With
`settings.rdap_bootstrap_url` set, every query goes to that redirector instead, and the
shipped files only tell which registry an address belongs to (for per-registry politeness).
"""

from __future__ import annotations

import ipaddress
import json
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from service.settings import Settings

REGISTRIES = ("arin", "ripe", "apnic", "lacnic", "afrinic")
IpNet = ipaddress.IPv4Network | ipaddress.IPv6Network


def registry_of_url(url: str) -> str:
    """The registry a URL belongs to: an RIR named in its host or first path segment, else host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    first = parts.path.strip("/").split("/", 1)[0].lower()
    for name in REGISTRIES:
        if name in host.split(".") or first == name:
            return name
    return (
        first
        if first and first not in ("ip", "domain", "autnum", "entity") and _is_loopback(host)
        else host
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _load(name: str, data_dir: Path | None) -> dict[str, Any]:
    if data_dir is not None and (data_dir / name).is_file():
        loaded: dict[str, Any] = json.loads((data_dir / name).read_text("utf-8"))
        return loaded
    text = (resources.files("service.resolve") / "data" / name).read_text("utf-8")
    shipped: dict[str, Any] = json.loads(text)
    return shipped


def _https_first(urls: list[str]) -> str:
    return sorted(urls, key=lambda u: not u.startswith("https"))[0]


@dataclass
class Bootstrap:
    """Longest-match lookups over the IANA registries."""

    data_dir: Path | None = None
    redirector: str | None = None

    @cached_property
    def _ip_table(self) -> dict[int, tuple[list[int], list[tuple[int, int, str]]]]:
        rows: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
        for name in ("ipv4.json", "ipv6.json"):
            for prefixes, urls in (s[:2] for s in _load(name, self.data_dir)["services"]):
                for prefix in prefixes:
                    net = ipaddress.ip_network(prefix)
                    rows[net.version].append((int(net[0]), int(net[-1]), _https_first(urls)))
        table = {}
        for version, entries in rows.items():
            entries.sort()
            table[version] = ([e[0] for e in entries], entries)
        return table

    @cached_property
    def _dns(self) -> dict[str, str]:
        return {
            tld.lower(): _https_first(urls)
            for tlds, urls in (s[:2] for s in _load("dns.json", self.data_dir)["services"])
            for tld in tlds
        }

    @cached_property
    def _asn(self) -> list[tuple[int, int, str]]:
        rows = []
        for ranges, urls in (s[:2] for s in _load("asn.json", self.data_dir)["services"]):
            for text in ranges:
                first, _, last = str(text).partition("-")
                rows.append((int(first), int(last or first), _https_first(urls)))
        return sorted(rows)

    def ip_base(self, ip: str) -> str | None:
        """The RDAP base URL (ending in /) of the registry holding `ip`."""
        address = ipaddress.ip_address(ip)
        starts, entries = self._ip_table[address.version]
        index = bisect_right(starts, int(address)) - 1
        # Bootstrap prefixes do not nest in practice, so the nearest start is the match.
        if index >= 0 and entries[index][0] <= int(address) <= entries[index][1]:
            return entries[index][2]
        return None

    def registry_of_ip(self, ip: str) -> str | None:
        base = self.ip_base(ip)
        return registry_of_url(base) if base else None

    def domain_base(self, name: str) -> str | None:
        labels = name.lower().rstrip(".").split(".")
        for i in range(len(labels)):
            base = self._dns.get(".".join(labels[i:]))
            if base:
                return base
        return None

    def autnum_base(self, asn: int) -> str | None:
        return next((url for first, last, url in self._asn if first <= asn <= last), None)

    def autnum_url(self, asn: int) -> str | None:
        if self.redirector:
            return f"{self.redirector.rstrip('/')}/autnum/{asn}"
        base = self.autnum_base(asn)
        return f"{base}autnum/{asn}" if base else None

    def ip_url(self, ip: str) -> str | None:
        if self.redirector:
            return f"{self.redirector.rstrip('/')}/ip/{ip}"
        base = self.ip_base(ip)
        return f"{base}ip/{ip}" if base else None

    def domain_url(self, name: str) -> str | None:
        if self.redirector:
            return f"{self.redirector.rstrip('/')}/domain/{name}"
        base = self.domain_base(name)
        return f"{base}domain/{name}" if base else None


def bootstrap_for(settings: Settings) -> Bootstrap:
    return Bootstrap(settings.resolve_data_dir, settings.rdap_bootstrap_url)
