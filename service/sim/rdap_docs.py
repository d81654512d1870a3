"""RFC 9083 responses for a world's networks, ASNs and domains, in each registry's style.

The styles copy where real registries put the abuse address (design §8):
ARIN nests the abuse POC inside the registrant org; RIPE has an abuse-c role at the root
(other entities without vCard, to be fetched by their self link); APNIC an IRT object;
LACNIC one person with roles administrative/technical/abuse (domain sometimes upper-case);
AFRINIC entities without roles, abuse@ only inside the org's vCard.
"""

from __future__ import annotations

import hashlib
from typing import Any

from service.sim.world import Domain, Hoster, IpNetwork, Registrar

Doc = dict[str, Any]
Emails = list[tuple[str, dict[str, str]]]
CONFORMANCE = ["rdap_level_0", "cidr0", "nro_rdap_profile_0"]
DOMAIN_CONFORMANCE = ["rdap_level_0", "icann_rdap_response_profile_0"]
EVENTS = [
    {"eventAction": "registration", "eventDate": "2016-03-01T10:00:00Z"},
    {"eventAction": "last changed", "eventDate": "2023-09-14T08:30:00Z"},
]


def num(text: str, digits: int = 4) -> int:
    """A stable number derived from a name (handles must not change between runs)."""
    return int(hashlib.sha256(text.encode()).hexdigest(), 16) % 10**digits


def vcard(fn: str, kind: str = "org", emails: Emails | None = None) -> list[Any]:
    props: list[Any] = [
        ["version", {}, "text", "4.0"],
        ["fn", {}, "text", fn],
        ["kind", {}, "text", kind],
    ]
    props += [["email", params, "text", address] for address, params in emails or []]
    props.append(["tel", {"type": "voice"}, "uri", f"tel:+1-555-01{num(fn, 2):02d}"])
    return ["vcard", props]


def entity(
    base: str, registry: str, handle: str, roles: list[str], card: list[Any] | None, **extra: Any
) -> Doc:
    doc: Doc = {"objectClassName": "entity", "handle": handle}
    if roles:
        doc["roles"] = roles
    if card is not None:
        doc["vcardArray"] = card
    doc["links"] = [_self(base, registry, "entity", handle)]
    return doc | extra


def hoster_entities(h: Hoster, base: str) -> list[Doc]:
    """The entity list of a network or autnum object of `h`, in its registry's style."""
    return _STYLES[h.registry](h, base)


def entity_handles(h: Hoster) -> list[str]:
    """Every entity handle of a hoster (nested ones included), for /entity lookups."""
    out: list[str] = []

    def walk(items: list[Doc]) -> None:
        for e in items:
            out.append(e["handle"])
            walk(e.get("entities", []))

    walk(hoster_entities(h, ""))
    return out


def find_entity(h: Hoster, handle: str, base: str) -> Doc | None:
    """The full entity (vCard included, as an entity query returns it)."""
    full = {e["handle"]: e for e in _flatten(hoster_entities(h, base))}
    found = full.get(handle)
    if found is None:
        return None
    doc = dict(found)
    if "vcardArray" not in doc:
        doc["vcardArray"] = vcard(h.display_name, "org", [(a, {}) for a in h.abuse[:1]])
    return {"rdapConformance": CONFORMANCE, **doc}


def network_handle(registry: str, net: IpNetwork) -> str:
    first, last = net[0], net[-1]
    dashed = str(first).replace("::", ":").replace(".", "-").replace(":", "-").upper().strip("-")
    return {
        "arin": f"NET{'6' if net.version == 6 else ''}-{dashed}-1",
        "lacnic": str(net),
    }.get(registry, f"{first} - {last}")


def network_doc(
    h: Hoster, net: IpNetwork, base: str, parent: tuple[Hoster, IpNetwork] | None = None
) -> Doc:
    """A network object; with `parent`, its `parentHandle` and `links` rel="up" to the
    allocation it was carved from, as RIRs publish them (RFC 9083 §5.4)."""
    first, last = net[0], net[-1]
    version = f"v{net.version}"
    style_handle = network_handle(h.registry, net)
    prefix_key = "v4prefix" if net.version == 4 else "v6prefix"
    own = _self(base, h.registry, "ip", str(net))
    links = [own]
    extra: Doc = {}
    if parent is not None:
        holder, block = parent
        up = f"{base}/{holder.registry}/ip/{block}"
        links.append({"value": own["href"], "rel": "up", "href": up, "type": own["type"]})
        extra["parentHandle"] = network_handle(holder.registry, block)
    return extra | {
        "rdapConformance": CONFORMANCE,
        "objectClassName": "ip network",
        "handle": style_handle,
        "startAddress": str(first),
        "endAddress": str(last),
        "ipVersion": version,
        "name": f"{h.name.upper()}-NET",
        "type": "ALLOCATED PA" if h.registry != "arin" else "DIRECT ALLOCATION",
        "country": h.country,
        "status": ["active"],
        "cidr0_cidrs": [{prefix_key: str(first), "length": net.prefixlen}],
        "entities": hoster_entities(h, base),
        "events": EVENTS,
        "links": links,
        "port43": f"whois.{h.registry}.net",
    }


def autnum_doc(h: Hoster, base: str) -> Doc:
    return {
        "rdapConformance": CONFORMANCE,
        "objectClassName": "autnum",
        "handle": f"AS{h.asn}",
        "startAutnum": h.asn,
        "endAutnum": h.asn,
        "name": h.name.upper(),
        "type": "DIRECT ALLOCATION",
        "country": h.country,
        "status": ["active"],
        "entities": hoster_entities(h, base),
        "events": EVENTS,
        "links": [_self(base, h.registry, "autnum", str(h.asn))],
    }


def domain_doc(d: Domain, registrar: Registrar | None, registry: str, base: str) -> Doc:
    tld = d.name.rsplit(".", 1)[-1]
    doc: Doc = {
        "rdapConformance": DOMAIN_CONFORMANCE,
        "objectClassName": "domain",
        "handle": f"{num(d.name, 9)}_DOMAIN_{tld.upper()}-SIM",
        "ldhName": d.name.upper() if registry == "verisign" else d.name,
        "status": ["client transfer prohibited"],
        "nameservers": [
            {"objectClassName": "nameserver", "ldhName": f"NS{i}.{d.name.upper()}"} for i in (1, 2)
        ],
        "secureDNS": {"delegationSigned": False},
        "events": [*EVENTS, {"eventAction": "expiration", "eventDate": "2030-03-01T10:00:00Z"}],
        "links": [_self(base, registry, "domain", d.name)],
    }
    if registrar is not None:
        doc["entities"] = [_registrar_entity(registrar, base, registry)]
    return doc


def _registrar_entity(r: Registrar, base: str, registry: str) -> Doc:
    if r.iana_id is None:
        # ccTLD style: a registry-local handle, the registrar's own address, no abuse entity.
        card = vcard(r.name, "org", [(r.email, {})] if r.email else [])
        return entity(
            base, registry, f"reg{num(r.name, 3)}-{registry.upper()}", ["registrar"], card
        )
    abuse = {
        "objectClassName": "entity",
        "roles": ["abuse"],
        "vcardArray": vcard("", "individual", [(r.abuse, {})] if r.abuse else []),
    }
    card = vcard(r.name, "org", [])
    return entity(
        base,
        registry,
        str(r.iana_id),
        ["registrar"],
        card,
        publicIds=[{"type": "IANA Registrar ID", "identifier": str(r.iana_id)}],
        entities=[abuse],
    )


# --- registry styles ----------------------------------------------------------------------
def _arin(h: Hoster, base: str) -> list[Doc]:
    tag = h.name[:5].upper()
    abuse = entity(
        base,
        "arin",
        f"ABUSE{num(h.name)}-ARIN",
        ["abuse"],
        vcard("Abuse", "group", [(a, {}) for a in h.abuse]),
    )
    noc = entity(
        base,
        "arin",
        f"NOC{num(h.name + 'noc')}-ARIN",
        ["noc", "technical"],
        vcard("Network Operations", "group", [(f"noc@{_mail_domain(h)}", {})]),
    )
    org = entity(
        base,
        "arin",
        f"{tag}-{num(h.name, 2)}",
        ["registrant"],
        vcard(h.display_name, "org"),
        entities=[abuse, noc],
    )
    return [org]


def _ripe(h: Hoster, base: str) -> list[Doc]:
    letters = h.name[:2].upper()
    org = entity(base, "ripe", f"ORG-{letters}{num(h.name, 2)}-RIPE", ["registrant"], None)
    mnt = entity(base, "ripe", f"{h.name.upper()}-MNT", ["registrant"], None)
    abuse = entity(
        base,
        "ripe",
        f"AR{num(h.name, 5)}-RIPE",
        ["abuse"],
        vcard("Abuse contact role object", "group", [(a, {"pref": "1"}) for a in h.abuse]),
    )
    admin = entity(
        base,
        "ripe",
        f"{letters}{num(h.name + 'p', 3)}-RIPE",
        ["administrative", "technical"],
        vcard("Network Team", "individual"),
    )
    return [org, mnt, abuse, admin]


def _apnic(h: Hoster, base: str) -> list[Doc]:
    irt_mail: list[tuple[str, dict[str, str]]] = [(a, {}) for a in h.abuse] + [
        (a, {"type": "abuse"}) for a in h.abuse
    ]
    irt = entity(
        base,
        "apnic",
        f"IRT-{h.name.upper()}-{h.country}",
        ["abuse"],
        vcard(f"IRT-{h.name.upper()}-{h.country}", "group", irt_mail),
    )
    admin = entity(
        base,
        "apnic",
        f"{h.name[:2].upper()}{num(h.name, 3)}-AP",
        ["administrative", "technical"],
        vcard("Hostmaster", "group", [(f"hostmaster@{_mail_domain(h)}", {})]),
    )
    return [irt, admin]


def _lacnic(h: Hoster, base: str) -> list[Doc]:
    upper = num(h.name, 2) % 2 == 0  # some records carry the domain part in capitals
    mails = [_upper_domain(a) if upper else a for a in h.abuse]
    person = entity(
        base,
        "lacnic",
        f"{h.name[:3].upper()}{num(h.name, 2)}",
        ["administrative", "technical", "abuse"],
        vcard("Operacion de Redes", "individual", [(a, {}) for a in mails]),
    )
    org = entity(
        base,
        "lacnic",
        f"{h.country}-{h.name[:4].upper()}-LACNIC",
        ["registrant"],
        vcard(h.display_name, "org"),
    )
    return [person, org]


def _afrinic(h: Hoster, base: str) -> list[Doc]:
    # No roles at all: the abuse@ address is only findable inside the org's vCard.
    mails: Emails = [(f"noc@{_mail_domain(h)}", {})]
    mails += [(a, {}) for a in h.abuse]
    org = entity(
        base,
        "afrinic",
        f"ORG-{h.name[:2].upper()}{num(h.name, 2)}-AFRINIC",
        [],
        vcard(h.display_name, "org", mails),
    )
    person = entity(
        base,
        "afrinic",
        f"{h.name[:2].upper()}{num(h.name, 3)}-AFRINIC",
        [],
        vcard("IP Maintainer", "individual", [(f"ip-maint@{_mail_domain(h)}", {})]),
    )
    return [org, person]


_STYLES = {"arin": _arin, "ripe": _ripe, "apnic": _apnic, "lacnic": _lacnic, "afrinic": _afrinic}


def _self(base: str, registry: str, kind: str, key: str) -> Doc:
    href = f"{base}/{registry}/{kind}/{key}"
    return {"value": href, "rel": "self", "href": href, "type": "application/rdap+json"}


def _flatten(items: list[Doc]) -> list[Doc]:
    out: list[Doc] = []
    for e in items:
        out.append(e)
        out += _flatten(e.get("entities", []))
    return out


def _mail_domain(h: Hoster) -> str:
    return h.abuse[0].rsplit("@", 1)[-1] if h.abuse else f"{h.name}.invalid"


def _upper_domain(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local}@{domain.upper()}"
