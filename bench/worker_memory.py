"""A probe worker's memory while due checks flow through the real probe stage.

Three processes, so the figure is the worker's own: this one (the benchmark, which also holds
the loader's garbage), an aiohttp server on loopback serving generated images (random
pixels and shapes, never anything else), and the worker: the probe stage's claim loop
(claim, fetch with the SSRF guard, hash, verdict, observation, streak, reschedule) against the
big database. The worker reports its peak resident set (VmHWM) when the checks are done.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import multiprocessing
import resource
import time
from typing import Any

import asyncpg
import numpy as np
from aiohttp import web
from PIL import Image, ImageDraw

IMAGES = 64


def generated_image(i: int) -> bytes:
    """A 320×240 JPEG of random pixels with a few ellipses (seeded by i)."""
    rng = np.random.default_rng(i)
    img = Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))
    pen = ImageDraw.Draw(img)
    for _ in range(6):
        x, y = (int(v) for v in rng.integers(0, 260, 2))
        pen.ellipse((x, y, x + 60, y + 40), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _serve(port_out: multiprocessing.Queue[int]) -> None:
    bodies = [generated_image(i) for i in range(IMAGES)]

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=bodies[int(request.match_info["i"]) % IMAGES],
                            content_type="image/jpeg")  # fmt: skip

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/img/{i}.jpg", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
        port_out.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


def peak_rss_mb() -> float:
    """Peak resident set of this process in MB (VmHWM; getrusage where /proc is absent)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def seed_checks(conn: asyncpg.Connection, port: int, count: int) -> None:
    """`count` notified cases on the image server, each with a probe job due now.

    The probe jobs of the generated world that are due point at hosts nobody may contact,
    so they are moved a day ahead first: only loopback URLs are checked here.
    """
    await conn.execute(
        "UPDATE jobs SET run_at = now() + interval '1 day' WHERE kind = 'probe' AND run_at <= now()"
    )
    digests = [hashlib.sha256(generated_image(i)).hexdigest() for i in range(IMAGES)]
    await conn.execute(
        "WITH c AS (INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id,"
        " source_ref, detected_at, state, first_notice_at, resolved_at)"
        " SELECT 'http://127.0.0.1:' || $1 || '/img/' || i || '.jpg', 'x', '127.0.0.1',"
        " ($2::text[])[1 + i % $3], 'image/jpeg', (SELECT min(id) FROM tokens), 'mem', now(),"
        " 'notified', now(), now() FROM generate_series(0, $4 - 1) AS i RETURNING id)"
        " INSERT INTO jobs (kind, case_id, run_at) SELECT 'probe', id, now() FROM c",
        str(port),
        digests,
        IMAGES,
        count,
    )


def _worker(dsn: str, count: int, out: multiprocessing.Queue[Any]) -> None:
    out.put(asyncio.run(_run_worker(dsn, count)))


async def _run_worker(dsn: str, count: int) -> tuple[int, float, float]:
    from pydantic import SecretStr

    from service.db.pool import create_pool
    from service.settings import Settings
    from service.workers.loop import ClaimLoop, loop_config
    from service.workers.probe_stage import ProbeStage

    settings = Settings(database_url=SecretStr(dsn), allow_private_targets=True, worker_concurrency=16,
                        worker_batch=20, worker_poll_interval=0.05,
                        probe_per_host_concurrency=16)  # fmt: skip
    pool = await create_pool(dsn, min_size=2, max_size=20)
    stop = asyncio.Event()
    loop = ClaimLoop(pool, ProbeStage(pool, settings), loop_config(settings), stop)
    started = time.perf_counter()
    task = asyncio.create_task(loop.run())
    deadline = started + 600
    # The loop exposes a counter, not an event: poll it (with a deadline).
    while loop.handled < count and time.perf_counter() < deadline and not task.done():  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    await pool.close()
    return loop.handled, loop.handled / elapsed, peak_rss_mb()


async def measure(dsn: str, count: int) -> tuple[int, float, float]:
    """(checks handled, checks/s, worker peak RSS in MB) for `count` due checks."""
    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = ctx.Queue()
    server = ctx.Process(target=_serve, args=(ports,), daemon=True)
    server.start()
    try:
        port = await asyncio.to_thread(ports.get, True, 30)
        conn = await asyncpg.connect(dsn)
        await seed_checks(conn, port, count)
        await conn.close()
        results: multiprocessing.Queue[Any] = ctx.Queue()
        worker = ctx.Process(target=_worker, args=(dsn, count, results))
        worker.start()
        outcome: tuple[int, float, float] = await asyncio.to_thread(results.get, True, 900)
        await asyncio.to_thread(worker.join, 30)
        return outcome
    finally:
        server.kill()
        server.join()
