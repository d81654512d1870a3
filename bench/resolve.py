"""Resolution benchmark: a generated world of URLs on many networks, RDAP latency injected.

    python -m bench.resolve [--urls 20000] [--networks 2000] [--latency 0.1] [--baseline 40]

Prints RDAP queries made (target: the number of distinct networks), DNS queries, cold wall
time, the warm-cache rate (target >= 5000 URLs/s), and, in the same run, a straightforward
per-URL lookup as a scanner script would do it: DNS, then ipwhois' RDAP lookup (its own
blocking urllib, depth 1 for the nested abuse POC) for every URL, no cache — run on a sample
and extrapolated, because done for every URL it takes minutes. Everything talks to the
loopback peers of service/sim (a patched ipwhois bootstrap URL points at them); registry
pacing is off here because the simulated registries do not rate-limit. The RDAP server's
counts are read before the baseline runs: it queries the same server, and counting its
queries too once made ours look 2-3 % above one per network (40 extra for 40 sampled URLs).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import time
import urllib.request
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import dns.resolver
import ipwhois.rdap
from ipwhois.net import Net
from pydantic import SecretStr

from bench.database import fresh_database
from service.db.pool import pool_for
from service.resolve.resolver import open_resolver, primary_address
from service.settings import Settings
from service.sim.clock import SimClock
from service.sim.dns import DnsServer
from service.sim.generator import generate_world
from service.sim.rdap import RdapServer
from service.sim.world import World


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=20_000)
    parser.add_argument("--networks", type=int, default=2_000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per RDAP answer")
    parser.add_argument("--baseline", type=int, default=40, help="URLs in the baseline sample")
    parser.add_argument("--concurrency", type=int, default=128)
    return parser.parse_args()


def distinct_networks(world: World) -> int:
    """Networks the resolver must know: the primary address's, and for a host whose other
    addresses sit in another origin AS, that AS's first network too (each is told)."""
    nets = set()
    for url in world.urls:
        ips = [str(ip) for ip in world.resolve(url.host)]
        primary = primary_address(tuple(ips))
        found = world.network_for(ipaddress.ip_address(primary))
        if found:
            nets.add(found[1])
        seen_asns = {found[0].asn} if found else set()
        for ip in ips:
            other = world.network_for(ipaddress.ip_address(ip))
            elsewhere = ip != primary and other and other[1] != (found and found[1])
            if elsewhere and other and other[0].asn not in seen_asns:
                seen_asns.add(other[0].asn)
                nets.add(other[1])
    return len(nets)


async def run_all(resolver: Any, urls: list[str], concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)

    async def one(url: str) -> None:
        async with slots:
            await resolver.resolve(url)

    started = time.perf_counter()
    await asyncio.gather(*(one(u) for u in urls))
    return time.perf_counter() - started


def baseline_lookup(url: str, dns_address: str, rdap_url: str) -> None:
    """What a scanner script does per URL: resolve, then ipwhois RDAP with its own HTTP."""
    host, port = dns_address.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = [host], int(port)
    ip = str(resolver.resolve(urlsplit(url).hostname or "", "A")[0])
    ipwhois.rdap.BOOTSTRAP_URL = rdap_url  # loopback only: never the real rdap.arin.net
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    ipwhois.rdap.RDAP(Net(ip, proxy_opener=no_proxy)).lookup(
        bootstrap=True, depth=1, asn_data={"asn_registry": "arin"}, retry_count=0
    )


async def baseline(urls: list[str], dns_server: DnsServer, rdap: RdapServer) -> float:
    started = time.perf_counter()
    for url in urls:  # sequential, like the script it stands for; in a thread: it blocks
        await asyncio.to_thread(baseline_lookup, url, dns_server.address, rdap.url)
    return (time.perf_counter() - started) / len(urls)


async def main() -> None:
    args = _args()
    world = generate_world(seed=1, hosters=args.networks, urls=args.urls, cdns=5, time_scale=0)
    urls = [u.url for u in world.urls]
    rdap = RdapServer(world, SimClock(), rate_limits={})
    dns_server = DnsServer(world)
    await rdap.start()
    await dns_server.start()
    rdap.faults.add("slow", delay=args.latency)
    try:
        async with fresh_database("resolve") as dsn:
            await _measure(args, world, urls, dsn, dns_server, rdap)
    finally:
        await dns_server.stop()
        await rdap.stop()


async def _measure(
    args: argparse.Namespace,
    world: World,
    urls: list[str],
    dsn: str,
    dns_server: DnsServer,
    rdap: RdapServer,
) -> None:
    settings = Settings(
        database_url=SecretStr(dsn),
        dns_nameservers=[dns_server.address],
        rdap_bootstrap_url=rdap.url,
        rdap_rate_limits={},
        rdap_default_rate=1e9,
        rdap_concurrency=args.concurrency,
        dns_timeout=5.0,
        rdap_timeout=30.0,
    )
    networks = distinct_networks(world)
    async with pool_for(dsn, min_size=4, max_size=20) as pool, open_resolver(pool, settings) as r:
        cold = await run_all(r, urls, args.concurrency)
        stats = r.stats()
        served = Counter(rdap.counts)  # ours only: the baseline below queries the same server
        warm = await run_all(r, urls, args.concurrency)
        warm_queries = sum(rdap.counts.values()) - sum(served.values())
    per_url = await baseline(urls[: args.baseline], dns_server, rdap)
    _report(args, urls, networks, stats, served, cold, (warm, warm_queries), per_url)


def _report(
    args: argparse.Namespace,
    urls: list[str],
    networks: int,
    stats: dict[str, Any],
    served: Counter[str],
    cold: float,
    warm_run: tuple[float, int],
    per_url: float,
) -> None:
    ip_queries, (warm, warm_queries) = served["ip"], warm_run
    verdict = "meets" if ip_queries == networks else "BELOW"
    print(f"world: {len(urls)} URLs on {networks} distinct networks, RDAP latency {args.latency}s")
    print(f"RDAP network queries  {ip_queries:>8}   (target {networks}: one per network)")
    print(f"RDAP queries vs distinct networks  {ip_queries}/{networks}  {verdict}")
    print(f"RDAP queries by registry/redirector  {stats['rdap_queries']}")
    print(f"RDAP domain queries   {served['domain']:>8}   entity {served['entity']}")
    # The escalation ladder's upstream desk (a parent allocation by prefix, or the origin AS)
    # is looked up when a case reaches that step, never by resolution: 0 here.
    print(
        f"RDAP upstream queries {served['ip-prefix'] + served['autnum']:>8}   "
        f"(parent allocations {served['ip-prefix']}, autnum {served['autnum']})"
    )
    print(
        f"DNS queries           {stats['dns_queries']:>8}   coalesced lookups {stats['coalesced']}"
    )
    print(f"cold wall time        {cold:>8.2f} s   ({len(urls) / cold:,.0f} URLs/s)")
    print(f"warm-cache rate       {len(urls) / warm:>8,.0f} URLs/s   (target >= 5000)")
    print(f"warm-cache queries    {warm_queries:>8}   (RDAP queries the second pass sent)")
    baseline_wall = per_url * len(urls)
    print(
        f"baseline per-URL ipwhois: {per_url * 1000:.0f} ms/URL on {args.baseline} URLs → "
        f"{baseline_wall:,.0f} s for all; ratio baseline/ours (cold) = {baseline_wall / cold:,.1f}x"
    )


if __name__ == "__main__":
    asyncio.run(main())
