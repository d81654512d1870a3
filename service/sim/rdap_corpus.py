"""Recorded real RDAP responses (../shared/rdap-corpus/), indexed to be served at their paths.

Each recorded response is served unchanged except for its links: those pointing at real
RDAP servers are rewritten to the simulator's own base URL, so that a resolver following
`links[rel=self]` stays on loopback (nothing may ever reach a real registry).
"""

from __future__ import annotations

import ast
import ipaddress
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from service.sim.dnszone import CymruOrigin
from service.sim.world import IpAddress

log = logging.getLogger(__name__)
_OBJECT_LINK = re.compile(r"^https?://[^/]+(?:/[^/]*)*?/(ip|entity|autnum|domain|nameserver)/(.+)$")
_HOST_REGISTRY = {
    "arin": "arin",
    "ripe": "ripe",
    "apnic": "apnic",
    "lacnic": "lacnic",
    "afrinic": "afrinic",
    "verisign": "verisign",
    "norid": "norid",
}


@dataclass
class CorpusIndex:
    """Recorded responses by kind; `registry` tells where the bootstrap redirects."""

    networks: list[tuple[int, int, int, str, dict[str, Any]]] = field(default_factory=list)
    autnums: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    entities: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    domains: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    origins: list[CymruOrigin] = field(default_factory=list)
    files: int = 0

    def network(self, ip: IpAddress) -> tuple[str, dict[str, Any]] | None:
        """The smallest recorded network containing `ip`."""
        hits = [
            (end - start, reg, doc)
            for v, start, end, reg, doc in self.networks
            if v == ip.version and start <= int(ip) <= end
        ]
        if not hits:
            return None
        _, reg, doc = min(hits, key=lambda h: h[0])
        return reg, doc


def checkout_corpus() -> Path | None:
    """`../shared/rdap-corpus` beside a source checkout, when it is there.

    An installed package has no such neighbour: the demo and `takedown sim serve` then run on
    the world's own generated RDAP objects alone (the recorded responses are an extra, used by
    the conformance tests; `--corpus DIR` points at a copy).
    """
    checkout = Path(__file__).resolve().parents[2]
    folder = checkout.parent / "shared" / "rdap-corpus"
    in_checkout = (checkout / "pyproject.toml").is_file()
    return folder if in_checkout and folder.is_dir() else None


def load_corpus(folder: str | Path | None) -> CorpusIndex:
    """Index every recorded response in `folder`; an absent folder gives an empty index."""
    index = CorpusIndex()
    if folder is None or not Path(folder).is_dir():
        return index
    for path in sorted(Path(folder).glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or path.name in ("expected.json",):
            continue
        if _add(index, path.name, doc):
            index.files += 1
    index.origins = _origins(Path(folder) / "SOURCES.md")
    log.info("sim rdap: %d recorded responses loaded", index.files)
    return index


def _add(index: CorpusIndex, name: str, doc: dict[str, Any]) -> bool:
    registry = name.split("_", 1)[0]
    if registry == "domain":
        registry = name.rsplit("_", 1)[-1].removesuffix(".json")
    kind = doc.get("objectClassName") or ("ip network" if "startAddress" in doc else None)
    if kind == "ip network":
        start, end = _address(doc["startAddress"]), _address(doc["endAddress"])
        index.networks.append((start.version, int(start), int(end), registry, doc))
    elif kind == "autnum":
        index.autnums[int(doc["startAutnum"])] = (registry, doc)
    elif kind == "entity":
        index.entities[str(doc["handle"]).upper()] = (registry, doc)
    elif kind == "domain":
        index.domains[str(doc["ldhName"]).lower()] = (registry, doc)
    else:
        return False
    return True


def _address(text: str) -> IpAddress:
    # Old records carry "/32" suffixes (RIPE) or zero-padded octets (ARIN).
    text = text.split("/", 1)[0].strip()
    if ":" not in text:
        text = ".".join(str(int(octet)) for octet in text.split("."))
    return ipaddress.ip_address(text)


def _origins(sources: Path) -> list[CymruOrigin]:
    """The Team Cymru rows SOURCES.md lists for the recorded addresses."""
    if not sources.is_file():
        return []
    out = []
    for line in sources.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^- (\S+): (\{.*\})$", line.strip())
        if not match:
            continue
        data = ast.literal_eval(match.group(2))
        if not str(data.get("asn", "")).isdigit() or "/" not in str(data.get("asn_cidr")):
            continue
        out.append(
            CymruOrigin(
                ipaddress.ip_network(data["asn_cidr"], strict=False),
                int(data["asn"]),
                data["asn_country_code"],
                data["asn_registry"],
                data.get("asn_date", ""),
            )
        )
    return out


def rewrite_links(doc: Any, base: str) -> Any:
    """A copy of `doc` whose RDAP object links point at `base` instead of real servers."""
    if isinstance(doc, list):
        return [rewrite_links(item, base) for item in doc]
    if not isinstance(doc, dict):
        return doc
    out = {k: rewrite_links(v, base) for k, v in doc.items()}
    for key in ("href", "value"):
        if isinstance(out.get(key), str) and "rel" in out:
            out[key] = _rewrite(out[key], base)
    return out


def _rewrite(url: str, base: str) -> str:
    match = _OBJECT_LINK.match(url)
    if not match:
        return url
    host = (urlsplit(url).hostname or "").lower()
    fallback = host.split(".")[-2] if host.count(".") else host
    registry = next((r for key, r in _HOST_REGISTRY.items() if key in host), fallback)
    return f"{base}/{registry}/{match.group(1)}/{match.group(2)}"
