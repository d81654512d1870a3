"""Resolution of the simulated world's URLs: addresses, CDN, registrar, book, hotlines."""

from __future__ import annotations

import ipaddress

import asyncpg

from service.db import resolve_repo
from service.resolve.resolver import Resolver, open_resolver
from service.sim.clock import SimClock
from service.sim.dns import DnsServer
from service.sim.rdap import RdapServer
from service.sim.world import Hoster, World
from tests.integration.resolve.conftest import Peers, serving


def _recipients(route: dict[str, object]) -> list[tuple[str, str]]:
    return [(r["address"], r["role"]) for r in route["recipients"]]  # type: ignore[index, union-attr]


async def test_cname_chain_and_every_address_are_followed(resolver: Resolver) -> None:
    result = await resolver.resolve("http://media.sunny-gallery.net/albums/2/x1.jpg")
    assert result.detail["cnames"] == ["sunny-gallery.pixelbarn.com", "edge.pixelbarn.com"]
    assert set(result.route["ip_addresses"]) == {"23.160.8.10", "23.160.8.11", "2602:fb12::10"}
    assert _recipients(result.route)[0] == ("abuse@pixelbarn.com", "abuse")
    assert result.route["hoster"] == "PixelBarn Hosting, Inc."
    assert result.route["asn"] == 396981 and result.route["country"] == "US"
    assert result.route["registrar"]["abuse"] == "abuse-reports@dotbox-domains.com"
    assert any("abusix agrees" in n for n in result.detail["notes"])


async def test_ipv6_only_host_routes_by_its_ipv6_network(resolver: Resolver) -> None:
    result = await resolver.resolve("http://up.sakurabox.jp/a.jpg")
    assert result.route["ip_addresses"] == ["2403:9800:10::33"]
    assert "2403:9800::/32" in result.route["network"]["cidr"]
    assert _recipients(result.route)[0] == ("abuse@sakurabox.jp", "abuse")


async def test_cdn_in_front_gets_the_notice_and_origin_is_unknown(resolver: Resolver) -> None:
    result = await resolver.resolve("http://cdn.kittenpics.org/p/1.jpg")
    cdn = result.route["cdn"]
    assert cdn is not None and cdn["origin_known"] is False
    assert "forward" in cdn["note"]
    assert _recipients(result.route)[0][0] == "abuse@maplecdn.net"


async def test_reseller_inside_an_allocation_gets_its_own_desk(resolver: Resolver) -> None:
    result = await resolver.resolve("http://img.shadowvps.ru/x.jpg")
    ranked = result.route["recipients"]
    assert ranked[0]["address"] == "abuse@shadowvps.ru" and ranked[0]["confidence"] == "high"
    assert any("abusix disagrees" in n for n in result.detail["notes"])
    # Behind it only guesses; the provider's desk is kept for escalation (test_upstream.py).
    assert all(r["confidence"] == "low" for r in ranked[1:] if r["role"] != "upstream")


async def test_nxdomain_and_nodata_are_facts_not_failures(resolver: Resolver) -> None:
    gone = await resolver.resolve("http://nothing-here.pixelbarn.com/a.jpg")
    assert gone.route["no_contact_reason"].startswith("NXDOMAIN")
    assert gone.route["recipients"] == []
    empty = await resolver.resolve("http://www.kittenpics.org/a.jpg")
    assert empty.route["no_contact_reason"].startswith("NODATA")


async def test_cctld_registrar_without_abuse_desk_is_low_confidence(resolver: Resolver) -> None:
    result = await resolver.resolve("http://i.baltichost.lv/x.jpg")
    registrar = result.route["registrar"]
    assert registrar["abuse"] == "info@nicreseller.lv" and registrar["confidence"] == "low"
    assert _recipients(result.route)[0][0] == "abuse@baltichost.lv"


async def test_contact_book_rule_wins_and_is_recorded_as_source(
    pool: asyncpg.Pool, peers: Peers, db_url: str
) -> None:
    async with pool.acquire() as conn:
        rule = await resolve_repo.add_rule(
            conn,
            cidr="185.61.148.0/22",
            address="Takedown@Tulpnet.nl",
            language="nl",
            cc=["legal@tulpnet.nl"],
        )
        await resolve_repo.add_rule(conn, asn=209311, address="wrong@tulpnet.nl")
    async with open_resolver(pool, peers.settings(db_url)) as resolver:
        result = await resolver.resolve("http://files.tulpnet.nl/f.jpg")
    first, cc = result.route["recipients"]
    assert (first["address"], first["language"]) == ("takedown@tulpnet.nl", "nl")
    assert first["source"].startswith(f"contact-book:{rule}")
    assert (cc["address"], cc["role"]) == ("legal@tulpnet.nl", "cc")


async def test_do_not_contact_routes_through_the_named_hotline(
    pool: asyncpg.Pool, peers: Peers, db_url: str
) -> None:
    async with pool.acquire() as conn:
        await resolve_repo.set_hotline(
            conn,
            "RU",
            name="Hotline RU",
            address="reports@hotline.example.ru",
            language="ru",
            policy="direct",
        )
        await resolve_repo.add_rule(
            conn, domain="shadowvps.ru", do_not_contact=True, via_hotline="RU"
        )
    async with open_resolver(pool, peers.settings(db_url)) as resolver:
        result = await resolver.resolve("http://img.shadowvps.ru/x.jpg")
    assert _recipients(result.route) == [("reports@hotline.example.ru", "hotline")]
    assert result.route["hotline"]["country"] == "RU"
    assert result.route["no_contact_reason"] is None


async def test_country_policy_hotline_or_both(
    pool: asyncpg.Pool, peers: Peers, db_url: str
) -> None:
    async with pool.acquire() as conn:
        await resolve_repo.set_hotline(
            conn,
            "NL",
            name="Meldpunt",
            address="meld@hotline.example.nl",
            language="nl",
            policy="hotline",
        )
        await resolve_repo.set_hotline(
            conn,
            "JP",
            name="JP Hotline",
            address="jp@hotline.example.jp",
            language="ja",
            policy="both",
        )
    async with open_resolver(pool, peers.settings(db_url)) as resolver:
        nl = await resolver.resolve("http://files.tulpnet.nl/f.jpg")
        jp = await resolver.resolve("http://up.sakurabox.jp/a.jpg")
    assert _recipients(nl.route) == [("meld@hotline.example.nl", "hotline")]
    assert _recipients(jp.route) == [
        ("abuse@sakurabox.jp", "abuse"),
        ("jp@hotline.example.jp", "hotline"),
    ]


async def test_no_published_contact_is_unresolved_with_reason(
    pool: asyncpg.Pool, db_url: str
) -> None:
    # AFRINIC-style record without roles and no abuse@ anywhere, only role mailboxes (the
    # world's own, so the test needs no ../shared corpus); Abusix disabled so nothing fills
    # the gap.
    quiet = Hoster(
        name="quietnet",
        org_name="Quiet Networks (Pty) Ltd",
        country="ZA",
        registry="afrinic",
        asn=328999,
        networks=[ipaddress.ip_network("196.11.250.0/24")],
        abuse=["ip-maint@quietnet.co.za"],  # published in the org's vCard, not as abuse
        abusix=[],
    )
    base = World.default()
    world = base.model_copy(update={"hosters": [*base.hosters, quiet]})
    rdap = RdapServer(world, SimClock())
    async with serving(world, rdap, DnsServer(world)) as peers:
        settings = peers.settings(db_url, abusix_zone="")
        async with open_resolver(pool, settings) as resolver:
            result = await resolver.resolve("http://196.11.250.10/x.jpg")
    assert result.decision.resolved is False
    assert "no abuse contact" in result.route["no_contact_reason"]
    fallbacks = {r["address"]: r["confidence"] for r in result.route["recipients"]}
    assert fallbacks == {"noc@quietnet.co.za": "low", "ip-maint@quietnet.co.za": "low"}
