"""The hosting network of an address: RDAP fetch, entity completion, parsing, contacts.

ipwhois parses the network part (CIDRs from start/end, zero-padded and '/32'-suffixed
addresses of old records): it gets the document we fetched and makes no network call. The
contacts come from our own walk of the nested entities (service.domain.rdap_contacts),
because ipwhois at depth 0 drops ARIN's nested abuse POC.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Hashable
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

from ipwhois.exceptions import InvalidEntityObject, InvalidNetworkObject
from ipwhois.rdap import _RDAPNetwork

from service.domain.rdap_contacts import (
    Contact,
    ContactFindings,
    entities_missing_vcard,
    extract_contacts,
    roles_of,
    self_link,
    vcard_name,
    walk_entities,
)
from service.domain.routing import Network
from service.domain.upstream import UpstreamContact
from service.errors import TransientLookupError
from service.resolve.rdap import RdapClient

log = logging.getLogger(__name__)
MAX_ENTITY_FETCHES = 4


@dataclass(frozen=True)
class NetworkRecord:
    """What the registry says about a network: its extent, names and ranked contacts, the
    link to its parent allocation, and (once looked up) its upstream provider's desk."""

    network: Network
    findings: ContactFindings
    parent_link: str | None = None
    upstream: UpstreamContact | None = None
    upstream_known: bool = False  # False: not looked up yet (upstream None says nothing)

    def to_json(self) -> dict[str, Any]:
        return {
            "network": asdict(self.network),
            "findings": asdict(self.findings),
            "parent_link": self.parent_link,
            "upstream": self.upstream.as_json() if self.upstream else None,
            "upstream_known": self.upstream_known,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NetworkRecord:
        net = dict(data["network"])
        net["cidrs"] = tuple(net["cidrs"])
        found = data["findings"]
        contacts = tuple(Contact(**c) for c in found["contacts"])
        findings = ContactFindings(contacts, found["no_abuse_role"], tuple(found["notes"]))
        upstream = data.get("upstream")
        return cls(
            Network(**net),
            findings,
            data.get("parent_link"),
            UpstreamContact.from_json(upstream) if upstream else None,
            bool(data.get("upstream_known")),
        )

    def with_upstream(self, upstream: UpstreamContact | None) -> NetworkRecord:
        return replace(self, upstream=upstream, upstream_known=True)

    def contains(self, ip: str) -> bool:
        address = ipaddress.ip_address(ip)
        start = ipaddress.ip_address(self.network.start)
        end = ipaddress.ip_address(self.network.end)
        return start.version == address.version and int(start) <= int(address) <= int(end)


async def lookup_network(
    client: RdapClient, ip: str, registry: str | None, ticket: Hashable | None = None
) -> NetworkRecord | None:
    """The network holding `ip`, or None when the registry has no record of it (404).
    `ticket` reserves a far registry slot for this lookup (PacingDeferral)."""
    doc = await client.ip(ip, ticket)
    if doc is None:
        return None
    await complete_entities(client, doc)
    return parse_network(doc, ip, registry)


async def complete_entities(client: RdapClient, doc: dict[str, Any]) -> None:
    """Fetch `links[rel=self]` of entities that lack a vCard (never a URL built from a handle)."""
    for entity in entities_missing_vcard(doc)[:MAX_ENTITY_FETCHES]:
        url = self_link(entity)
        try:
            fetched = await client.get(url) if url else None
        except TransientLookupError:
            if "abuse" in roles_of(entity):
                raise  # the abuse desk is behind this link: no conclusion without it
            continue
        if fetched and isinstance(fetched.get("vcardArray"), list):
            entity["vcardArray"] = fetched["vcardArray"]
            entity.setdefault("remarks", fetched.get("remarks") or [])


def parse_network(doc: dict[str, Any], ip: str, registry: str | None) -> NetworkRecord:
    fields = _ipwhois_fields(doc, ip)
    network = Network(
        cidrs=tuple(fields["cidrs"]),
        start=fields["start"],
        end=fields["end"],
        handle=_text(doc.get("handle")),
        name=_text(doc.get("name")),
        country=_country(doc.get("country")),
        registry=registry,
        org=_registrant_name(doc),
    )
    return NetworkRecord(network, extract_contacts(doc), parent_link(doc))


def parent_link(doc: dict[str, Any]) -> str | None:
    """The network's `links` rel="up" (its parent allocation), on the server that answered.

    A link elsewhere is not followed: the registry that holds the network holds its parent,
    and a response must not send us to an arbitrary host.
    """
    links = [link for link in doc.get("links") or [] if isinstance(link, dict)]
    own = next((str(link.get("href")) for link in links if link.get("rel") == "self"), None)
    for link in links:
        href = link.get("href")
        if link.get("rel") != "up" or not isinstance(href, str) or not href.strip():
            continue
        url = urljoin(own or "", href.strip())
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            continue
        if own is not None and urlsplit(own).netloc not in ("", parts.netloc):
            continue
        return url
    return None


def _ipwhois_fields(doc: dict[str, Any], ip: str) -> dict[str, Any]:
    try:
        parsed = _RDAPNetwork(doc)
        parsed.parse()
        cidrs = [c.strip() for c in str(parsed.vars["cidr"]).split(",") if c.strip()]
        nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
        if nets:
            first = min(n.network_address for n in nets)
            last = max(n.broadcast_address for n in nets)
            return {"cidrs": [str(n) for n in nets], "start": str(first), "end": str(last)}
    except (InvalidNetworkObject, InvalidEntityObject, KeyError, ValueError, TypeError) as exc:
        log.info("RDAP network for %s not parseable by ipwhois (%s); using the address", ip, exc)
    host = ipaddress.ip_network(ip)  # unknown extent: cache this address only
    return {"cidrs": [str(host)], "start": ip, "end": ip}


def _registrant_name(doc: dict[str, Any]) -> str | None:
    for entity, _parent in walk_entities(doc):
        if "registrant" in roles_of(entity) and (name := vcard_name(entity)):
            return name
    return None


def _text(value: object) -> str | None:
    return str(value).strip() or None if value is not None else None


def _country(value: object) -> str | None:
    text = str(value or "").strip().upper()
    return text if len(text) == 2 and text.isalpha() else None
