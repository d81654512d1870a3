"""The upstream provider of a hosting network, from RDAP: the escalation ladder's first step.

Asked for when a case's ladder reaches that step (the 'upstream' stage calls
`Resolver.upstream_of`), never during resolution. Given the network's own answer: (a) follow
its `links` rel="up" to its parent allocation and take that object's abuse desk if it is not
the network's own; else (b) ask RDAP `/autnum/{origin AS}` (the route's origin, from Team
Cymru at resolution) and take its desk. Both objects go through the network lookup's
machinery: the same bootstrap, registry pacing and entity completion, and the same contact
extraction (service.domain.rdap_contacts).

Many networks share a parent or an origin AS, so answers are kept per object URL for the
RDAP cache's TTL and concurrent lookups of one URL share one query. The resolver stores the
result on the network's cached record, so a network is looked up once per TTL, whichever of
its cases asks first.
"""

from __future__ import annotations

import time
from datetime import timedelta

from service.domain.rdap_contacts import ContactFindings, extract_contacts
from service.domain.upstream import UpstreamContact, pick_upstream
from service.resolve.network import NetworkRecord, complete_entities
from service.resolve.politeness import Coalescer
from service.resolve.rdap import RdapClient

PARENT = "rdap-parent"
AUTNUM = "rdap-autnum"
MEMO_SIZE = 50_000


class UpstreamLookup:
    """Finds a network's upstream desk; `queries` counts the RDAP objects it fetched."""

    def __init__(self, rdap: RdapClient, ttl: timedelta, negative_ttl: timedelta) -> None:
        self.rdap = rdap
        self.ttl = ttl.total_seconds()
        self.negative_ttl = negative_ttl.total_seconds()
        self.queries = 0
        self._memo: dict[str, tuple[float, ContactFindings | None, str]] = {}
        self._coalescer = Coalescer()

    async def find(self, record: NetworkRecord, origin_asn: int | None) -> UpstreamContact | None:
        """The parent allocation's desk, else the origin AS's; None when neither differs.

        Registry failures propagate (TransientLookupError): the caller decides whether the
        decision may go on without the upstream.
        """
        own = record.findings
        if record.parent_link:
            findings, handle = await self._object(record.parent_link)
            found = pick_upstream(findings, own, PARENT, handle) if findings else None
            if found is not None:
                return found
        url = self.rdap.bootstrap.autnum_url(origin_asn) if origin_asn is not None else None
        if url is None:
            return None
        findings, _handle = await self._object(url)
        return pick_upstream(findings, own, AUTNUM, f"AS{origin_asn}") if findings else None

    async def _object(self, url: str) -> tuple[ContactFindings | None, str]:
        memo = self._memo.get(url)
        if memo is not None and memo[0] > time.monotonic():
            return memo[1], memo[2]
        return await self._coalescer.run(url, lambda: self._fetch(url))

    async def _fetch(self, url: str) -> tuple[ContactFindings | None, str]:
        self.queries += 1
        doc = await self.rdap.get(url)
        if doc is None:  # no such object (404): remembered for the shorter negative TTL
            answer: tuple[ContactFindings | None, str] = (None, url)
            self._remember(url, answer, self.negative_ttl)
            return answer
        await complete_entities(self.rdap, doc)
        answer = (extract_contacts(doc), str(doc.get("handle") or url))
        self._remember(url, answer, self.ttl)
        return answer

    def _remember(
        self, url: str, answer: tuple[ContactFindings | None, str], seconds: float
    ) -> None:
        if len(self._memo) > MEMO_SIZE:
            self._memo.clear()
        self._memo[url] = (time.monotonic() + seconds, *answer)
