"""The simulated world as data: hosters, networks, DNS names, registrars, contents and URLs.

A world is loaded from YAML/JSON (`World.load`) or generated (`generator.generate_world`).
It is immutable description only; what changes at runtime (notices, removals, the clock)
lives in `behaviour.WorldState`.
"""

from __future__ import annotations

import ipaddress
import json
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Registry = Literal["arin", "ripe", "apnic", "lacnic", "afrinic"]
DEFAULT_WORLD = Path(__file__).parent / "data" / "small-world.yaml"


class BehaviourKind(StrEnum):
    """How a hoster reacts to a notice (see design §6)."""

    REMOVE_AFTER = "remove_after"
    NEVER = "never"
    ACK_NO_REMOVE = "ack_no_remove"
    PLACEHOLDER = "placeholder"
    SOFT404 = "soft404"
    REDIRECT_REMOVED = "redirect_removed"
    REENCODE = "reencode"
    REUPLOAD = "reupload"
    CLOAK = "cloak"
    TIMEOUT = "timeout"
    RESET = "reset"
    GONE_410 = "gone_410"
    LOGIN_WALL = "login_wall"  # after the notice, anonymous visitors get a sign-in form
    FORWARD = "forward"  # a CDN passing the notice on to the origin hoster


class MailReaction(StrEnum):
    """What a hoster's mail system sends back to the hotline after a notice."""

    REPLY = "reply"  # a person answers in the thread
    AUTO_REPLY = "auto_reply"  # a ticket system acknowledges (RFC 3834 Auto-Submitted)
    BOUNCE = "bounce"  # accepted by the MX, then refused by the mailbox behind it (a DSN)


class AckAnswer(StrEnum):
    RECEIVED = "received"
    REMOVED = "removed"
    NOT_OURS = "not_ours"
    DISPUTE = "dispute"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Behaviour(_Model):
    """A hoster's reaction; every delay is in simulated seconds from the notice."""

    kind: BehaviourKind = BehaviourKind.REMOVE_AFTER
    delay: float = Field(default=3600.0, ge=0)
    reupload_after: float = Field(default=86400.0, ge=0)
    ack: AckAnswer | None = AckAnswer.RECEIVED
    ack_delay: float = Field(default=0.0, ge=0)
    cloak_response: Literal["403", "decoy"] = "403"
    mail: MailReaction | None = None


class Hoster(_Model):
    """A network operator with address space, an abuse desk and a behaviour."""

    name: str
    org_name: str = ""
    country: str = Field(min_length=2, max_length=2)
    registry: Registry
    asn: int = Field(ge=1, le=4_294_967_295)
    networks: list[IpNetwork] = Field(min_length=1)
    abuse: list[str] = Field(default_factory=list)
    # What the Abusix zone says; None = same as `abuse`, [] = not listed at all.
    abusix: list[str] | None = None
    behaviour: Behaviour = Field(default_factory=Behaviour)
    cdn: bool = False

    @field_validator("networks")
    @classmethod
    def _public_only(cls, networks: list[IpNetwork]) -> list[IpNetwork]:
        # RDAP tooling (ipwhois) refuses reserved ranges, so the world must look real.
        for net in networks:
            if not net.network_address.is_global:
                raise ValueError(f"{net} is not public address space")
        return networks

    @property
    def display_name(self) -> str:
        return self.org_name or self.name

    @property
    def abusix_contacts(self) -> list[str]:
        return self.abuse if self.abusix is None else self.abusix


class Registrar(_Model):
    """A domain registrar; `abuse` is None for ccTLD registrars outside the ICANN profile."""

    name: str
    iana_id: int | None = None
    abuse: str | None = None
    email: str | None = None


class HostRecord(_Model):
    a: list[ipaddress.IPv4Address] = Field(default_factory=list)
    aaaa: list[ipaddress.IPv6Address] = Field(default_factory=list)
    cname: str | None = None
    txt: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cname_alone(self) -> HostRecord:
        if self.cname and (self.a or self.aaaa or self.txt):
            raise ValueError("a CNAME cannot coexist with other records")
        return self


class Domain(_Model):
    """A registered domain with its DNS names (fully qualified, no trailing dot)."""

    name: str
    registrar: str | None = None
    hosts: dict[str, HostRecord] = Field(default_factory=dict)


class Content(_Model):
    """A generated image; the same content id at several URLs means the same bytes."""

    seed: int
    format: Literal["jpeg", "png", "webp"] = "jpeg"
    width: int = Field(default=256, ge=16, le=4096)
    height: int = Field(default=256, ge=16, le=4096)


class UrlEntry(_Model):
    url: str
    hoster: str
    content: str

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


class World(_Model):
    """A whole simulated internet, validated so that every reference resolves."""

    name: str = "world"
    seed: int = 0
    time_scale: float = Field(default=0.0, ge=0)
    hosters: list[Hoster]
    registrars: list[Registrar] = Field(default_factory=list)
    domains: list[Domain] = Field(default_factory=list)
    contents: dict[str, Content] = Field(default_factory=dict)
    urls: list[UrlEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> World:
        hosters = {h.name for h in self.hosters}
        registrars = {r.name for r in self.registrars}
        for d in self.domains:
            if d.registrar is not None and d.registrar not in registrars:
                raise ValueError(f"domain {d.name}: unknown registrar {d.registrar}")
        for u in self.urls:
            if u.hoster not in hosters or u.content not in self.contents:
                raise ValueError(f"url {u.url}: unknown hoster or content")
            if not self.resolve(u.host):
                raise ValueError(f"url {u.url}: host does not resolve in this world")
        return self

    # --- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> World:
        """Read a world from a .yaml/.yml or .json file."""
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        return cls.model_validate(data)

    @classmethod
    def default(cls) -> World:
        return cls.load(DEFAULT_WORLD)

    def dump(self, path: str | Path) -> None:
        data = self.model_dump(mode="json", exclude_defaults=True)
        if str(path).endswith(".json"):
            Path(path).write_text(json.dumps(data, indent=2), encoding="utf-8")
        else:
            Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    # --- lookups ---------------------------------------------------------------------------
    @cached_property
    def _records(self) -> dict[str, HostRecord]:
        return {
            name.lower().rstrip("."): rec for d in self.domains for name, rec in d.hosts.items()
        }

    @cached_property
    def _url_index(self) -> dict[str, UrlEntry]:
        return {url_key(u.url): u for u in self.urls}

    def record(self, name: str) -> HostRecord | None:
        return self._records.get(name.lower().rstrip("."))

    def names(self) -> list[str]:
        return list(self._records)

    def hoster(self, name: str) -> Hoster:
        return next(h for h in self.hosters if h.name == name)

    def registrar(self, name: str) -> Registrar | None:
        return next((r for r in self.registrars if r.name == name), None)

    def resolve(self, host: str, depth: int = 0) -> list[IpAddress]:
        """Addresses a hostname (or IP literal) ends at, following CNAMEs."""
        try:
            return [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            pass
        rec = self.record(host)
        if rec is None or depth > 8:
            return []
        if rec.cname:
            return self.resolve(rec.cname, depth + 1)
        return [*rec.a, *rec.aaaa]

    @cached_property
    def _prefixes(self) -> _PrefixIndex:
        return _PrefixIndex(self.hosters)

    def network_for(self, ip: IpAddress) -> tuple[Hoster, IpNetwork] | None:
        """The longest-prefix network containing `ip`, with its hoster (the first listed
        on a tie)."""
        return self._index().longest(ip, ip.max_prefixlen)

    def network_covering(self, query: IpNetwork) -> tuple[Hoster, IpNetwork] | None:
        """The most specific network holding all of `query` (an RDAP `/ip/{prefix}` query)."""
        return self._index().longest(query.network_address, query.prefixlen)

    def parent_of(self, net: IpNetwork) -> tuple[Hoster, IpNetwork] | None:
        """The allocation `net` was carved from: the most specific other network holding it
        (a reseller's block inside its provider's)."""
        return self._index().longest(net.network_address, net.prefixlen - 1)

    def _index(self) -> _PrefixIndex:
        """The networks indexed by prefix length: a scan of every network took ~10 ms per
        lookup in a world of 5 000 hosters, and the sim DNS and RDAP servers ask for every
        address they answer about."""
        index = self._prefixes
        if index.hosters is not self.hosters:  # a copy with other hosters (model_copy)
            del self.__dict__["_prefixes"]
            index = self._prefixes
        return index

    def hoster_by_asn(self, asn: int) -> Hoster | None:
        """The holder of an AS: the first hoster listed with it (hosters listed later with the
        same ASN are customers whose blocks it announces)."""
        return next((h for h in self.hosters if h.asn == asn), None)

    def domain_of(self, name: str) -> Domain | None:
        """The registered domain a name belongs to (longest suffix match)."""
        name = name.lower().rstrip(".")
        best = None
        for d in self.domains:
            if (name == d.name or name.endswith("." + d.name)) and (
                best is None or len(d.name) > len(best.name)
            ):
                best = d
        return best

    def url_entry(self, url: str) -> UrlEntry | None:
        return self._url_index.get(url_key(url))

    def urls_of(self, hoster: str) -> list[UrlEntry]:
        return [u for u in self.urls if u.hoster == hoster]

    def front_of(self, url: UrlEntry) -> Hoster | None:
        """The CDN whose address the URL's host resolves to, if any."""
        for ip in self.resolve(url.host):
            found = self.network_for(ip)
            if found and found[0].cdn and found[0].name != url.hoster:
                return found[0]
        return None

    def hosters_at(self, host: str) -> list[Hoster]:
        """Every hoster holding one of the addresses `host` resolves to (a name whose records
        sit in several networks is served by each of them), in address order."""
        found: dict[str, Hoster] = {}
        for ip in self.resolve(host):
            network = self.network_for(ip)
            if network is not None:
                found.setdefault(network[0].name, network[0])
        return list(found.values())

    def hosters_by_mailbox(self, address: str) -> list[Hoster]:
        address = address.lower()
        return [h for h in self.hosters if address in (a.lower() for a in h.abuse)]

    def mailboxes(self) -> set[str]:
        """Every address the world's mail server accepts."""
        boxes = {a.lower() for h in self.hosters for a in [*h.abuse, *(h.abusix or [])]}
        for r in self.registrars:
            boxes |= {a.lower() for a in (r.abuse, r.email) if a}
        return boxes


def url_key(url: str) -> str:
    """Scheme-insensitive key: https URLs of the world are served as plain http by the proxy."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    query = f"?{parts.query}" if parts.query else ""
    return f"{host}{port}{parts.path or '/'}{query}"


class _PrefixIndex:
    """The hosters' networks by IP version and prefix length, for longest-prefix matches."""

    def __init__(self, hosters: list[Hoster]) -> None:
        self.hosters = hosters
        self._tables: dict[tuple[int, int], dict[int, tuple[Hoster, IpNetwork]]] = {}
        for hoster in hosters:
            for net in hoster.networks:
                table = self._tables.setdefault((net.version, net.prefixlen), {})
                table.setdefault(int(net.network_address), (hoster, net))
        self._lengths = sorted(self._tables, key=lambda key: -key[1])

    def longest(self, ip: IpAddress, at_most: int) -> tuple[Hoster, IpNetwork] | None:
        """The longest network of prefix length `at_most` or shorter holding `ip`."""
        bits, value = ip.max_prefixlen, int(ip)
        for version, length in self._lengths:
            if version == ip.version and length <= at_most:
                start = value >> (bits - length) << (bits - length)
                found = self._tables[version, length].get(start)
                if found is not None:
                    return found
        return None
