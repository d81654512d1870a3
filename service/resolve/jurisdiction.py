"""The hosting country of a case: the registry's country, else the routing table's.

RDAP `country` is where the network is registered; Team Cymru's is where the allocation is
registered. They usually agree; when they do not, RDAP wins and the disagreement is noted.
The routing policy per country (direct / hotline / both) lives in the `hotlines` table and is
applied by service.domain.routing_policy.
"""

from __future__ import annotations

from service.domain.routing import Network
from service.resolve.cymru import Origin


def hosting_country(
    network: Network | None, origin: Origin | None
) -> tuple[str | None, str | None]:
    """(country, note) from the network record and the Cymru origin."""
    rdap = network.country if network else None
    cymru = origin.country if origin else None
    if rdap and cymru and rdap != cymru:
        return rdap, f"country: RDAP says {rdap}, Team Cymru says {cymru}; using {rdap}"
    return rdap or cymru, None
