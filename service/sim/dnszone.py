"""DNS data of a world: host records, the Abusix contact zone and the Team Cymru zones.

Answers are computed, not stored, so the world file stays the single source: a reversed
address under the Abusix zone is looked up by longest prefix in the world's networks.
NXDOMAIN vs NODATA follows RFC 8020: a name exists when it has records *or* has
descendants (empty non-terminal) or is a domain apex.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field

from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, SOA, TXT, A

from service.sim.world import IpAddress, IpNetwork, World

CYMRU_REGISTRY = {"ripe": "ripencc"}


@dataclass(frozen=True)
class Zones:
    """Zone names (configurable like the service's settings)."""

    abusix: str = "abuse-contacts.abusix.zone"
    cymru_origin: str = "origin.asn.cymru.com"
    cymru_origin6: str = "origin6.asn.cymru.com"
    cymru_asn: str = "asn.cymru.com"


@dataclass(frozen=True)
class CymruOrigin:
    """An extra Team Cymru origin row (e.g. for the recorded RDAP corpus' addresses)."""

    network: IpNetwork
    asn: int
    country: str
    registry: str
    date: str = ""


@dataclass
class ZoneData:
    """Computes (rcode, answers, authority) for a query against one world."""

    world: World
    zones: Zones = field(default_factory=Zones)
    extra_origins: list[CymruOrigin] = field(default_factory=list)
    ttl: int = 300

    def answer(self, qname: str, qtype: str) -> tuple[int, list[RR], list[RR]]:
        name = qname.lower().rstrip(".")
        special = self._special(name)
        if special is not None:
            records = special if qtype in ("TXT", "ANY") else []
            return RCODE.NOERROR, records, [] if records else [self._soa(name)]
        return self._hosts(name, qtype)

    # --- world host names -----------------------------------------------------------------
    def _hosts(self, name: str, qtype: str) -> tuple[int, list[RR], list[RR]]:
        answers: list[RR] = []
        for _ in range(10):  # CNAME chain bound; a loop answers what it has so far
            rec = self.world.record(name)
            if rec is None:
                rcode = RCODE.NOERROR if self._exists(name) else RCODE.NXDOMAIN
                return rcode, answers, [self._soa(name)]
            if rec.cname and qtype not in ("CNAME",):
                answers.append(RR(name, QTYPE.CNAME, rdata=CNAME(rec.cname), ttl=self.ttl))
                name = rec.cname.lower().rstrip(".")
                continue
            found = self._typed(name, qtype)
            return RCODE.NOERROR, answers + found, [] if found else [self._soa(name)]
        return RCODE.SERVFAIL, answers, []

    def _typed(self, name: str, qtype: str) -> list[RR]:
        rec = self.world.record(name)
        assert rec is not None
        out: list[RR] = []
        if qtype in ("A", "ANY"):
            out += [RR(name, QTYPE.A, rdata=A(str(ip)), ttl=self.ttl) for ip in rec.a]
        if qtype in ("AAAA", "ANY"):
            out += [RR(name, QTYPE.AAAA, rdata=AAAA(str(ip)), ttl=self.ttl) for ip in rec.aaaa]
        if qtype in ("TXT", "ANY"):
            out += [RR(name, QTYPE.TXT, rdata=TXT(_chunks(t)), ttl=self.ttl) for t in rec.txt]
        if qtype == "CNAME" and rec.cname:
            out.append(RR(name, QTYPE.CNAME, rdata=CNAME(rec.cname), ttl=self.ttl))
        return out

    def _exists(self, name: str) -> bool:
        if any(d.name == name for d in self.world.domains):
            return True
        return any(n.endswith("." + name) for n in self.world.names())

    def _soa(self, name: str) -> RR:
        domain = self.world.domain_of(name)
        apex = domain.name if domain else self._special_apex(name) or "sim."
        soa = SOA(f"ns1.{apex}", f"hostmaster.{apex}", (1, 3600, 600, 86400, 60))
        return RR(apex, QTYPE.SOA, rdata=soa, ttl=60)

    # --- Abusix and Team Cymru --------------------------------------------------------------
    def _special_apex(self, name: str) -> str | None:
        z = self.zones
        for apex in (z.abusix, z.cymru_origin, z.cymru_origin6, z.cymru_asn):
            if apex and (name == apex or name.endswith("." + apex)):
                return apex
        return None

    def _special(self, name: str) -> list[RR] | None:
        """TXT records of an Abusix/Cymru name; None when the name does not exist there."""
        z, texts = self.zones, None
        if z.abusix and name.endswith("." + z.abusix):
            texts = self._abusix(name[: -len(z.abusix) - 1])
        elif z.cymru_origin and name.endswith("." + z.cymru_origin):
            texts = self._origin(_unreverse(name[: -len(z.cymru_origin) - 1], 4))
        elif z.cymru_origin6 and name.endswith("." + z.cymru_origin6):
            texts = self._origin(_unreverse(name[: -len(z.cymru_origin6) - 1], 6))
        elif z.cymru_asn and name.startswith("as") and name.endswith("." + z.cymru_asn):
            texts = self._asn(name[2 : -len(z.cymru_asn) - 1])
        if not texts:
            return None
        return [RR(name, QTYPE.TXT, rdata=TXT(_chunks(t)), ttl=self.ttl) for t in texts]

    def _abusix(self, reversed_ip: str) -> list[str] | None:
        ip = _unreverse(reversed_ip, 4) or _unreverse(reversed_ip, 6)
        found = self.world.network_for(ip) if ip else None
        if found is None or not found[0].abusix_contacts:
            return None
        return [",".join(found[0].abusix_contacts)]

    def _origin(self, ip: IpAddress | None) -> list[str] | None:
        if ip is None:
            return None
        found = self.world.network_for(ip)
        if found is not None:
            h, net = found
            reg = CYMRU_REGISTRY.get(h.registry, h.registry)
            return [f"{h.asn} | {net} | {h.country} | {reg} | {_date(h.asn)}"]
        extra = [o for o in self.extra_origins if o.network.version == ip.version]
        best = max(
            (o for o in extra if ip in o.network), default=None, key=lambda o: o.network.prefixlen
        )
        if best is None:
            return None
        return [f"{best.asn} | {best.network} | {best.country} | {best.registry} | {best.date}"]

    def _asn(self, digits: str) -> list[str] | None:
        h = self.world.hoster_by_asn(int(digits)) if digits.isdigit() else None
        if h is None:
            return None
        reg = CYMRU_REGISTRY.get(h.registry, h.registry)
        label = f"{h.name.upper()} - {h.display_name}, {h.country}"
        return [f"{h.asn} | {h.country} | {reg} | {_date(h.asn)} | {label}"]


def reverse_name(ip: IpAddress) -> str:
    """Reversed octets (IPv4) or 32 reversed nibbles (IPv6), as Abusix and Cymru expect."""
    if ip.version == 4:
        return ".".join(reversed(str(ip).split(".")))
    return ".".join(reversed(ip.exploded.replace(":", "")))


def _unreverse(labels: str, version: int) -> IpAddress | None:
    parts = labels.split(".")
    try:
        if version == 4 and len(parts) == 4:
            return ipaddress.IPv4Address(".".join(reversed(parts)))
        if version == 6 and len(parts) == 32 and all(len(p) == 1 for p in parts):
            nibbles = "".join(reversed(parts))
            return ipaddress.IPv6Address(int(nibbles, 16))
    except ValueError:
        return None
    return None


def _chunks(text: str) -> list[str]:
    # A TXT character-string holds at most 255 bytes; longer texts are split, and
    # readers join them back (Abusix answers are read exactly that way).
    return [text[i : i + 255] for i in range(0, len(text), 255)] or [""]


def _date(asn: int) -> str:
    # A stable, plausible allocation date per ASN.
    h = int(hashlib.sha256(str(asn).encode()).hexdigest()[:6], 16)
    return f"{2000 + h % 24:04d}-{1 + h % 12:02d}-{1 + h % 28:02d}"
