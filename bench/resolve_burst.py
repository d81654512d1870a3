"""A cold burst under registry politeness: the resolve stage against the registries' pacing.

`python -m bench resolve-burst [--urls 50000] [--hosters 5000] [--speedup 20]
[--concurrency 16]`

A generated world (its URLs on networks of the five registries, CDNs, registrars) is served
by the loopback DNS and RDAP servers of service/sim; the RDAP server enforces each registry's
limit per client (a sliding window: 429 beyond it). `--urls` cases arrive at once (state
received, a resolve job each, in random order) and the resolve stage's claim loop works
through them from cold caches with the registries' pacing — LACNIC 10/min, the other RIRs
60/min, every other RDAP server (the TLD registries' domain lookups) 60/min — all multiplied
by `--speedup` so that the run takes minutes, not days (`rdap_max_wait` is divided by it).

The politeness bound is the largest, over paced servers, of the queries it must answer (one
per network for an RIR, one per registrable domain for a TLD registry) ÷ its allowed rate;
nothing polite finishes sooner. The ratio is our total time (first claim to last case
decided) over that bound (target ≤ 1.1). Per server it prints the queries, what was needed,
when its last query was answered and that time over its own bound, so a registry held up by
another shows as a late finish; and the 429s the servers answered (a polite client gets none).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import ipaddress
import os
import random
import time
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import SecretStr

from bench.cpu import Cost, backend_cpu, cpu_between
from bench.database import fresh_database
from service.db.pool import create_pool
from service.resolve.registrar import registrable_domain
from service.resolve.resolver import primary_address
from service.settings import Settings
from service.sim.clock import SimClock
from service.sim.dns import DnsServer
from service.sim.generator import generate_world
from service.sim.rdap import TLD_REGISTRY, Found, RateLimit, RdapServer
from service.sim.rdap_docs import domain_doc
from service.sim.world import Domain, World
from service.workers.loop import ClaimLoop, loop_config
from service.workers.resolve_stage import ResolveStage

RIRS = {"lacnic": 10.0, "ripe": 60.0, "arin": 60.0, "apnic": 60.0, "afrinic": 60.0}
OTHERS_PER_MINUTE = 60.0


class TimedRdap(RdapServer):
    """The sim RDAP server, remembering when each registry last answered (and faster
    domain lookups: an index instead of a scan of the world's domains)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.last_answer: dict[str, float] = {}
        self._domains: dict[str, Domain] = {d.name: d for d in self.world.domains}

    async def _registry(self, request: web.Request) -> web.StreamResponse:
        response = await super()._registry(request)
        if response.status == 200:
            self.last_answer[request.match_info["registry"]] = time.perf_counter()
        return response

    def _domain(self, key: str, base: str) -> Found | None:
        name = key.lower().rstrip(".")
        domain = self._domains.get(name)
        if domain is None:
            return super()._domain(key, base)  # the recorded corpus
        tld = name.rsplit(".", 1)[-1]
        registry = TLD_REGISTRY.get(tld, f"{tld}-nic")
        registrar = self.world.registrar(domain.registrar) if domain.registrar else None
        return registry, domain_doc(domain, registrar, registry, base)


def needed(world: World) -> Counter[str]:
    """Queries a polite, caching resolver must send per paced server: one per network (RIRs)
    and one per registrable domain (the TLD registries, as the sim RDAP server names them)."""
    networks: dict[str, set[str]] = defaultdict(set)
    domains: dict[str, set[str]] = defaultdict(set)
    for host in {url.host for url in world.urls}:  # per host: the world's lookups scan
        ips = tuple(str(ip) for ip in world.resolve(host))
        if ips:
            found = world.network_for(ipaddress.ip_address(primary_address(ips)))
            if found is not None:
                networks[found[0].registry].add(str(found[1]))
        name = registrable_domain(host)
        if name is not None:
            tld = name.rsplit(".", 1)[-1]
            domains[TLD_REGISTRY.get(tld, f"{tld}-nic")].add(name)
    known = {d.name for d in world.domains}
    counts: Counter[str] = Counter()
    for registry, nets in networks.items():
        counts[registry] += len(nets)
    for registry, names in domains.items():
        counts[registry] += len(names & known)
    return counts


def per_minute(registry: str, speedup: float) -> float:
    return RIRS.get(registry, OTHERS_PER_MINUTE) * speedup


async def seed(dsn: str, urls: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    scanner = await conn.fetchval(
        "INSERT INTO tokens (name, role, secret_sha256) VALUES ('bench', 'scanner', $1)"
        " RETURNING id",
        hashlib.sha256(b"bench").digest(),
    )
    hosts = [(u.split("/")[2]).rsplit(":", 1)[0].lower() for u in urls]
    hashes = [hashlib.sha256(u.encode()).hexdigest() for u in urls]
    await conn.execute(
        "WITH c AS (INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id,"
        " source_ref, detected_at)"
        " SELECT u, u, h, s, 'image/jpeg', $4, 'bench', now()"
        " FROM unnest($1::text[], $2::text[], $3::text[]) AS t(u, h, s) RETURNING id, url)"
        " INSERT INTO jobs (kind, case_id, run_at)"
        " SELECT 'resolve', c.id, now() - interval '1 minute' + o.n * interval '1 microsecond'"
        " FROM c JOIN unnest($1::text[]) WITH ORDINALITY AS o(u, n) ON o.u = c.url",
        urls,
        hosts,
        hashes,
        scanner,
    )
    await conn.close()


async def commits(conn: asyncpg.Connection) -> int:
    """Transactions committed in this database so far (every connection's)."""
    return int(
        await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
    )


async def decided(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM cases WHERE state IN ('resolved', 'unresolved')"
            )
        )


async def run(args: argparse.Namespace) -> None:
    world = generate_world(
        seed=args.seed,
        hosters=args.hosters,
        urls=args.urls,
        cdns=5,
        time_scale=0,
        every_hoster_serves=True,
    )
    urls = [u.url for u in world.urls]
    random.Random(args.seed).shuffle(urls)
    # Each registry lets one client send its rate within any window of 10 (scaled) minutes'
    # worth of queries, plus one: the sliding window a strict registry would keep.
    limits = {r: RateLimit(int(rate * 10) + 1, 600.0 / args.speedup) for r, rate in RIRS.items()}
    rdap = TimedRdap(world, SimClock(time_scale=1.0), rate_limits=limits)
    dns = DnsServer(world)
    await rdap.start()
    await dns.start()
    try:
        async with fresh_database("burst") as dsn:
            await seed(dsn, urls)
            elapsed, started = await _resolve_all(args, dsn, rdap, dns, len(urls))
        report(args, world, rdap, elapsed, started)
    finally:
        await dns.stop()
        await rdap.stop()


async def _resolve_all(
    args: argparse.Namespace, dsn: str, rdap: RdapServer, dns: DnsServer, n: int
) -> tuple[float, float]:
    k = args.speedup
    settings = Settings(
        database_url=SecretStr(dsn),
        dns_nameservers=[dns.address],
        rdap_bootstrap_url=rdap.url,
        rdap_rate_limits={r: per_minute(r, k) for r in RIRS},
        rdap_default_rate=OTHERS_PER_MINUTE * k,
        rdap_max_wait=10.0 / k,
        rdap_concurrency=64,
        rdap_timeout=30.0,
        dns_timeout=5.0,
        worker_concurrency=args.concurrency,
        worker_batch=args.concurrency,
        worker_poll_interval=0.05,
        retry_base=timedelta(seconds=1),
    )
    pool = await create_pool(dsn, min_size=4, max_size=args.concurrency * 2 + 8, retry_for=5)
    stage = ResolveStage(pool, settings)
    stop = asyncio.Event()
    loop = ClaimLoop(pool, stage, loop_config(settings), stop)
    async with pool.acquire() as conn:
        db_before = await backend_cpu(conn)
        commits_before = await commits(conn)
    cpu = time.process_time()
    started = time.perf_counter()
    task = asyncio.create_task(loop.run())
    while await decided(pool) < n:
        await asyncio.sleep(0.25)  # a benchmark polling for its end, not synchronisation
        if task.done():
            break
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    async with pool.acquire() as conn:
        database = cpu_between(db_before, await backend_cpu(conn)) or 0.0
        committed = await commits(conn) - commits_before
    cost = Cost(client=time.process_time() - cpu, database=database)
    cores = os.cpu_count() or 1
    print(
        f"cpu per URL: {cost.per_item(n)}; this process includes the sim DNS and RDAP"
        f" servers. CPU alone allows ≥ {cost.total() / cores:.1f} s on {cores} cores"
    )
    deferred = (await stage.resolver()).rdap.gate.deferred
    print(
        f"jobs handled {loop.handled} for {n} URLs ({deferred} lookups came back for a"
        f" reserved registry slot); {committed / n:.2f} transactions per URL, reads included"
    )
    async with pool.acquire() as conn:
        retried = await conn.fetch(
            "SELECT left(detail->>'error', 70) AS error, count(*) FROM case_events"
            " WHERE kind = 'resolution_deferred' GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
        )
    for row in retried:
        print(f"retried after a failure: {row['count']} × {row['error']}")
    await stage.aclose()
    await pool.close()
    return elapsed, started


def report(
    args: argparse.Namespace, world: World, rdap: TimedRdap, elapsed: float, started: float
) -> None:
    need = needed(world)
    counts = rdap.counts
    print(
        f"{len(world.urls)} URLs, {sum(need[r] for r in RIRS)} networks "
        f"({', '.join(f'{r} {need[r]}' for r in RIRS)}), "
        f"{sum(v for r, v in need.items() if r not in RIRS)} registrable domains; "
        f"pacing ×{args.speedup:g} (LACNIC {per_minute('lacnic', args.speedup):g}/min, "
        f"other RIRs and TLD servers {per_minute('arin', args.speedup):g}/min)"
    )
    print(f"{'server':<12} {'queries':>8} {'needed':>7} {'rate/s':>7} {'bound s':>8} "
          f"{'done at s':>9} {'÷ bound':>7}")  # fmt: skip
    bound, worst = 0.0, ""
    for registry in sorted(need, key=lambda r: -need[r] / per_minute(r, args.speedup)):
        rate = per_minute(registry, args.speedup) / 60
        own = need[registry] / rate
        sent = counts[f"{registry}:ip"] + counts[f"{registry}:domain"]
        done = rdap.last_answer.get(registry, started) - started
        print(
            f"{registry:<12} {sent:>8} {need[registry]:>7} {rate:>7.1f} {own:>8.1f} "
            f"{done:>9.1f} {done / own if own else 0:>7.2f}"
        )
        if own > bound:
            bound, worst = own, registry
    limited = sum(v for key, v in counts.items() if key.endswith(":rate_limited"))
    ip_sent = sum(counts[f"{r}:ip"] for r in RIRS)
    networks = sum(need[r] for r in RIRS)
    print(f"RDAP network queries {ip_sent} for {networks} networks "
          f"({'equal' if ip_sent == networks else 'NOT equal'}); 429 answers {limited}")  # fmt: skip
    rir = max(need[r] / (per_minute(r, args.speedup) / 60) for r in RIRS)
    print(f"politeness bound {bound:.1f} s ({worst}; the RIRs' networks alone {rir:.1f} s); "
          f"total {elapsed:.1f} s ({len(world.urls) / elapsed:.0f} URLs/s)")  # fmt: skip
    print(f"resolve-burst: ratio {elapsed / bound:.2f}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench resolve-burst", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--urls", type=int, default=50_000)
    parser.add_argument("--hosters", type=int, default=5_000, help="hosters of the world")
    parser.add_argument("--speedup", type=float, default=20.0, help="multiply every pace")
    parser.add_argument("--concurrency", type=int, default=16, help="worker_concurrency")
    parser.add_argument("--seed", type=int, default=3)
    return parser.parse_args(argv)


def cli(argv: list[str] | None = None) -> None:
    asyncio.run(run(parse(argv)))


if __name__ == "__main__":
    cli()
