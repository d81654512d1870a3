"""Generated worlds: N hosters across registries and countries, M URLs, realistic skew.

Published figures shape it: one hoster holds about half of all detections (~48 %), the
rest follow a Zipf tail; the same image is found at several hosters; some sites sit
behind a CDN; some hosters are resellers whose block was carved from another hoster's larger
allocation (RDAP then links it to that parent, the upstream provider). Deterministic: the
same arguments give the same world.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from typing import Any

from service.sim.world import AckAnswer, BehaviourKind, IpNetwork, World

# Public first octets / IPv6 /16s per registry. Ranges of the recorded RDAP corpus
# (74/8, 13/8, 130/8, 62/8, 1/8, 200/8, 196/8, 206/8, 210/8, 2001::/16) are left out so that
# generated networks never shadow a recorded response.
SPACE: dict[str, tuple[list[str], list[int], list[str]]] = {
    "arin": (
        ["US", "US", "CA"],
        [23, 50, 63, 64, 66, 67, 68, 69, 96, 97, 98, 104, 107, 108],
        ["2600", "2602", "2604", "2605", "2607"],
    ),
    "ripe": (
        ["NL", "DE", "FR", "GB", "SE", "PL", "RU", "LV"],
        [5, 31, 37, 46, 77, 78, 79, 80, 81, 82, 85, 87, 88, 89, 91, 94, 176, 185, 188],
        ["2a00", "2a01", "2a02", "2a03", "2a05", "2a0e"],
    ),
    "apnic": (
        ["JP", "SG", "AU", "KR", "IN", "NZ"],
        [14, 27, 36, 42, 43, 49, 58, 59, 101, 103, 110, 111, 119, 122, 175, 180, 202],
        ["2400", "2401", "2403", "2404", "2405", "2406"],
    ),
    "lacnic": (
        ["BR", "MX", "AR", "CO", "CL"],
        [177, 179, 181, 186, 187, 189, 190, 191, 201],
        ["2800", "2803", "2804"],
    ),
    "afrinic": (["ZA", "KE", "NG", "EG", "GH"], [41, 102, 105, 154, 156, 160, 165, 197], ["2c0f"]),
}
REGISTRY_WEIGHTS = {"arin": 30, "ripe": 35, "apnic": 18, "lacnic": 10, "afrinic": 7}
GTLDS = ["com", "net", "org", "xyz", "info"]
CCTLD = {
    "US": "us",
    "CA": "ca",
    "NL": "nl",
    "DE": "de",
    "FR": "fr",
    "GB": "uk",
    "SE": "se",
    "PL": "pl",
    "RU": "ru",
    "LV": "lv",
    "JP": "jp",
    "SG": "sg",
    "AU": "au",
    "KR": "kr",
    "IN": "in",
    "NZ": "nz",
    "BR": "br",
    "MX": "mx",
    "AR": "ar",
    "CO": "co",
    "CL": "cl",
    "ZA": "za",
    "KE": "ke",
    "NG": "ng",
    "EG": "eg",
    "GH": "gh",
}
SYLLABLES = [
    "ra",
    "no",
    "vix",
    "tel",
    "ka",
    "lum",
    "zor",
    "pel",
    "mi",
    "dax",
    "qua",
    "sen",
    "bri",
    "tor",
    "lo",
    "fen",
    "gar",
    "ix",
    "po",
    "ul",
    "ven",
    "cy",
    "dro",
    "ma",
]
DELAYS = [600, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400]
KINDS = [k for k in BehaviourKind if k is not BehaviourKind.FORWARD]
RESELLER_SHARE = 0.25
PARENT_PREFIX = 20  # a provider's allocation around a reseller's /22


@dataclass
class _Builder:
    rng: random.Random
    used_nets: list[IpNetwork] = field(default_factory=list)
    used_names: set[str] = field(default_factory=set)
    hosters: list[dict[str, Any]] = field(default_factory=list)
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)
    contents: dict[str, dict[str, Any]] = field(default_factory=dict)
    urls: list[dict[str, Any]] = field(default_factory=list)

    def word(self) -> str:
        while True:
            w = "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(2, 3)))
            if w not in self.used_names:
                self.used_names.add(w)
                return w

    def network(self, registry: str, v6: bool) -> IpNetwork:
        _, octets, v6_prefixes = SPACE[registry]
        while True:
            if v6:
                text = f"{self.rng.choice(v6_prefixes)}:{self.rng.randrange(0x100, 0xFFFF):x}::/32"
            else:
                a, b = self.rng.choice(octets), self.rng.randrange(256)
                text = f"{a}.{b}.{self.rng.randrange(0, 256, 4)}.0/22"
            net = ipaddress.ip_network(text)
            if net.network_address.is_global and not any(
                net.overlaps(u) for u in self.used_nets if u.version == net.version
            ):
                self.used_nets.append(net)
                return net

    def address(self, net: IpNetwork) -> str:
        return str(net[self.rng.randrange(1, min(net.num_addresses - 1, 1 << 16))])

    def add_host(
        self, domain: str, registrar: str | None, host: str, record: dict[str, Any]
    ) -> None:
        self.domains.setdefault(domain, {"name": domain, "registrar": registrar, "hosts": {}})
        self.domains[domain]["hosts"][host] = record


def generate_world(
    seed: int = 0,
    hosters: int = 20,
    urls: int = 200,
    top_share: float = 0.48,
    shared_fraction: float = 0.15,
    cdn_fraction: float = 0.1,
    cdns: int = 1,
    time_scale: float = 10080.0,
    every_hoster_serves: bool = False,
) -> World:
    """A deterministic world for `seed`; every behaviour appears once hosters >= 14.

    `every_hoster_serves`: each origin hoster serves at least one URL itself (not behind a
    CDN), so that every network of the world is one to look up (the Zipf tail alone leaves
    many hosters without a URL: 5 000 hosters and 50 000 URLs gave 2 881 networks)."""
    if hosters < cdns + 1:
        raise ValueError("need at least one origin hoster besides the CDNs")
    b = _Builder(random.Random(seed))
    registrars = _registrars()
    for i in range(hosters):
        _add_hoster(b, i, is_cdn=i >= hosters - cdns, registrars=registrars)
    # Its own random stream: worlds of earlier versions stay the same but for the parents.
    _carve_resellers(b.hosters, random.Random(f"resellers-{seed}"))
    origins = [h for h in b.hosters if not h["cdn"]]
    fronts = [h for h in b.hosters if h["cdn"]]
    owners = _spread(b.rng, origins, urls, top_share, each_once=every_hoster_serves)
    served: set[str] = set()
    for index, hoster in enumerate(owners):
        direct = every_hoster_serves and hoster["name"] not in served
        served.add(hoster["name"])
        _add_url(b, index, hoster, [] if direct else fronts, registrars, shared_fraction,
                 cdn_fraction)  # fmt: skip
    return World.model_validate(
        {
            "name": f"generated-{seed}",
            "seed": seed,
            "time_scale": time_scale,
            "hosters": [{k: v for k, v in h.items() if k != "_host"} for h in b.hosters],
            "registrars": registrars,
            "domains": list(b.domains.values()),
            "contents": b.contents,
            "urls": b.urls,
        }
    )


def _registrars() -> list[dict[str, Any]]:
    return [
        {"name": "Sim Names LLC", "iana_id": 3301, "abuse": "abuse@simnames-registrar.com"},
        {"name": "Registrar Ovelo SAS", "iana_id": 1902, "abuse": "abuse@ovelo-registrar.fr"},
        {"name": "Kumo Domains K.K.", "iana_id": 2786, "abuse": "abuse@kumo-domains.jp"},
        {"name": "ccTLD Reseller", "email": "support@cctld-reseller.net"},  # no abuse desk
    ]


def _add_hoster(b: _Builder, i: int, is_cdn: bool, registrars: list[dict[str, Any]]) -> None:
    rng = b.rng
    registry = rng.choices(list(REGISTRY_WEIGHTS), list(REGISTRY_WEIGHTS.values()))[0]
    country = rng.choice(SPACE[registry][0])
    name = b.word()
    tld = rng.choice([*GTLDS, CCTLD[country]])
    domain = f"{name}{'-cdn' if is_cdn else 'host'}.{tld}"
    nets = [b.network(registry, v6=False)]
    if is_cdn or rng.random() < 0.5:
        nets.append(b.network(registry, v6=True))
    host = f"{'edge' if is_cdn else 'img'}.{domain}"
    record: dict[str, Any] = {"a": [b.address(nets[0])]}
    if len(nets) > 1:
        record["aaaa"] = [b.address(nets[1])]
    registrar = registrars[3]["name"] if tld not in GTLDS else rng.choice(registrars[:3])["name"]
    b.add_host(domain, registrar, host, record)
    b.hosters.append(
        {
            "name": name,
            "org_name": f"{name.capitalize()} {'CDN' if is_cdn else 'Hosting'} Ltd",
            "country": country,
            "registry": registry,
            "asn": 200000 + rng.randrange(190000),
            "networks": [str(n) for n in nets],
            "abuse": [f"abuse@{domain}"],
            "behaviour": _behaviour(rng, i, is_cdn),
            "cdn": is_cdn,
            "_host": host,
        }
    )


def _carve_resellers(hosters: list[dict[str, Any]], rng: random.Random) -> None:
    """Make some hosters resellers: their first IPv4 block lies inside a larger allocation
    of a provider of the same registry (the provider's addresses stay in its own block)."""
    origins = [h for h in hosters if not h["cdn"]]
    taken = [ipaddress.ip_network(n) for h in hosters for n in h["networks"]]
    resellers: set[str] = set()
    for child in origins[1:]:
        if rng.random() >= RESELLER_SHARE:
            continue
        block = ipaddress.ip_network(child["networks"][0])
        wider = block.supernet(new_prefix=PARENT_PREFIX) if block.version == 4 else None
        if wider is None or not wider.network_address.is_global:
            continue
        if any(wider.overlaps(n) for n in taken if n.version == 4 and n != block):
            continue
        providers = [
            h
            for h in origins
            if h is not child and h["registry"] == child["registry"] and h["name"] not in resellers
        ]
        if not providers:
            continue
        rng.choice(providers)["networks"].append(str(wider))
        taken.append(wider)
        resellers.add(child["name"])


def _behaviour(rng: random.Random, i: int, is_cdn: bool) -> dict[str, Any]:
    if is_cdn:
        return {"kind": "forward", "ack": "received"}
    kind = KINDS[0] if i == 0 else KINDS[(i - 1) % len(KINDS)]  # every behaviour appears
    ack = rng.choices([a.value for a in AckAnswer] + [None], [70, 5, 5, 5, 15])[0]
    if kind in (BehaviourKind.NEVER, BehaviourKind.TIMEOUT, BehaviourKind.RESET):
        ack = None
    return {
        "kind": kind.value,
        "delay": rng.choice(DELAYS),
        "ack": ack,
        "reupload_after": rng.choice(DELAYS[2:]),
        "cloak_response": rng.choice(["403", "decoy"]),
    }


def _spread(
    rng: random.Random,
    origins: list[dict[str, Any]],
    total: int,
    top_share: float,
    each_once: bool = False,
) -> list[dict[str, Any]]:
    """URL owners: `top_share` for the first hoster, a Zipf tail for the others (`each_once`:
    every hoster of the tail owns one URL first, the rest follow the Zipf tail)."""
    top = round(total * top_share) if len(origins) > 1 else total
    tail = origins[1:]
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(tail))]
    owners = [origins[0]] * top
    if each_once:
        if total - top < len(tail):
            raise ValueError(f"{total} URLs cannot give each of {len(origins)} hosters one")
        owners += tail
    owners += rng.choices(tail, weights, k=total - len(owners)) if tail else []
    return owners


def _add_url(
    b: _Builder,
    index: int,
    hoster: dict[str, Any],
    fronts: list[dict[str, Any]],
    registrars: list[dict[str, Any]],
    shared: float,
    cdn_fraction: float,
) -> None:
    rng = b.rng
    host = hoster["_host"]
    if fronts and rng.random() < cdn_fraction:
        host = _fronted_host(b, rng.choice(fronts), registrars)
    if b.contents and rng.random() < shared:
        content_id = rng.choice(sorted(b.contents))  # the same image found elsewhere
    else:
        content_id = f"c{len(b.contents):05d}"
        b.contents[content_id] = {
            "seed": rng.randrange(2**31),
            "format": rng.choices(["jpeg", "png", "webp"], [60, 25, 15])[0],
            "width": rng.randrange(160, 321),
            "height": rng.randrange(160, 321),
        }
    ext = {"jpeg": "jpg", "png": "png", "webp": "webp"}[b.contents[content_id]["format"]]
    path = (
        f"/{rng.choice(['i', 'u', 'files', 'media'])}/{index:05d}{rng.randrange(16**6):06x}.{ext}"
    )
    b.urls.append({"url": f"http://{host}{path}", "hoster": hoster["name"], "content": content_id})


def _fronted_host(b: _Builder, cdn: dict[str, Any], registrars: list[dict[str, Any]]) -> str:
    """A customer site whose name is a CNAME to the CDN's edge."""
    site = f"{b.word()}.{b.rng.choice(GTLDS)}"
    b.add_host(site, b.rng.choice(registrars[:3])["name"], f"cdn.{site}", {"cname": cdn["_host"]})
    return f"cdn.{site}"
