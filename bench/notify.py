"""Notices: N items across R recipients through the outbox and notify stages to a local SMTP
server (aiosmtpd on loopback), versus raw aiosmtplib sends of pre-rendered messages, in one run.

    python -m bench.notify --items 10000 --recipients 1000

Prints messages sent (target: = recipients), messages per second (target ≥ 200/s) and the
render cost per message.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection

import aiosmtplib
import asyncpg
from aiosmtpd.smtp import SMTP, Envelope, Session
from pydantic import SecretStr

from bench.database import fresh_database, print_ratio
from service.db.pool import create_pool
from service.db.tokens import create_token
from service.notify.compose import NoticeDraft, Sender, build_message
from service.notify.items import NoticeItem
from service.settings import Settings
from service.workers.loop import ClaimLoop, loop_config
from service.workers.notify_stage import NotifyStage
from service.workers.outbox_stage import OutboxStage

SEED_CASES = """
INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id, source_ref, state,
                   detected_at, resolved_at)
SELECT 'https://h' || (i % $2) || '.example/img/' || i || '.jpg', 'x', 'h' || (i % $2),
       encode(sha256(int8send(i)), 'hex'), 'image/jpeg', $3, 'bench', 'resolved',
       now() - interval '1 hour', now()
FROM generate_series(1, $1) AS i
"""
SEED_ROUTES = """
INSERT INTO case_routes (case_id, recipients, country)
SELECT id, jsonb_build_array(jsonb_build_object(
           'address', 'abuse@' || host || '.example', 'rank', 0, 'role', 'abuse')),
       (ARRAY['NL', 'DE', 'FR', 'US'])[1 + id % 4]
FROM cases
"""
SEED_JOBS = "INSERT INTO jobs (kind, case_id) SELECT 'outbox', id FROM cases"


class CountingSink:
    """Accepts everything; counts messages (the bench needs no content)."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 OK"


def _serve_smtp(port_out: Connection, count_in: Connection) -> None:
    """Child process: an aiosmtpd server counting messages until asked for the count."""

    async def serve() -> None:
        sink = CountingSink()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SMTP(sink, hostname="bench"), "127.0.0.1", 0)
        port_out.send(server.sockets[0].getsockname()[1])
        while True:
            await asyncio.to_thread(count_in.recv)
            port_out.send(sink.count)

    asyncio.run(serve())


class SmtpProcess:
    """A local SMTP server in its own process (as a real MTA would be)."""

    def __init__(self) -> None:
        self.replies, child_out = multiprocessing.Pipe()
        child_in, self.asks = multiprocessing.Pipe()
        self.process = multiprocessing.Process(
            target=_serve_smtp, args=(child_out, child_in), daemon=True
        )
        self.process.start()
        self.port: int = self.replies.recv()

    def count(self) -> int:
        self.asks.send("count")
        value: int = self.replies.recv()
        return value

    def stop(self) -> None:
        self.process.terminate()
        self.process.join()


async def seed(pool: asyncpg.Pool, items: int, recipients: int) -> None:
    async with pool.acquire() as conn:
        token, _ = await create_token(conn, "bench-scanner", "scanner")
        await conn.execute(SEED_CASES, items, recipients, token.id)
        await conn.execute(SEED_ROUTES)
        await conn.execute(SEED_JOBS)
        await conn.execute("ANALYZE")


async def run_until(pool: asyncpg.Pool, settings: Settings, stage: object, done_sql: str) -> float:
    """Run a stage's claim loop until `done_sql` is true; seconds taken."""
    stop = asyncio.Event()
    loop = ClaimLoop(pool, stage, loop_config(settings), stop)  # type: ignore[arg-type]
    started = time.perf_counter()
    task = asyncio.create_task(loop.run())
    async with pool.acquire() as conn:
        # The finish line is a database condition, so poll it (nothing to wait on in-process).
        while not await conn.fetchval(done_sql):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    return elapsed


def render_cost(samples: int, per_message: int, settings: Settings) -> float:
    """Mean milliseconds to render one complete message of `per_message` items."""
    at = datetime.now(UTC)
    items = [
        NoticeItem(i, f"https://h.example/img/{i}.jpg", {"sha256": "ab" * 32}, "image/jpeg", at, at)
        for i in range(per_message)
    ]
    draft = NoticeDraft(
        1,
        "notice",
        "en",
        "abuse@h.example",
        "<m@hotline.example>",
        "NL",
        items,
        at,
        "http://127.0.0.1:8080/ack/" + "x" * 43,
        at,
    )
    sender = Sender(settings.hotline_name, settings.mail_from, settings.reply_to)
    build_message(draft, sender).as_bytes()  # warm the template cache
    started = time.perf_counter()
    for _ in range(samples):
        build_message(draft, sender).as_bytes()
    return (time.perf_counter() - started) / samples * 1000


async def raw_send_rate(port: int, count: int, concurrency: int, settings: Settings) -> float:
    """Messages/s of bare aiosmtplib sends of one pre-rendered notice (the SMTP limit here)."""
    at = datetime.now(UTC)
    items = [NoticeItem(1, "https://h.example/1", {"sha256": "ab" * 32}, "image/jpeg", at, at)]
    draft = NoticeDraft(
        1,
        "notice",
        "en",
        "abuse@h.example",
        "<m@hotline.example>",
        None,
        items * 10,
        at,
        "http://127.0.0.1/ack/x",
        at,
    )
    message = build_message(draft, Sender("H", settings.mail_from, settings.reply_to))
    queue = list(range(count))

    async def worker() -> None:
        while queue:
            queue.pop()
            await aiosmtplib.send(
                message.as_bytes(),
                hostname="127.0.0.1",
                port=port,
                start_tls=False,
                recipients=["abuse@h.example"],
                sender=settings.mail_from,
            )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started)


async def main(items: int, recipients: int, concurrency: int) -> None:
    smtp = SmtpProcess()
    port = smtp.port
    async with fresh_database("notify") as dsn:
        settings = Settings(
            database_url=SecretStr(dsn),
            smtp_host="127.0.0.1",
            smtp_port=port,
            worker_batch=50,
            notice_gather_window=timedelta(0),
            worker_concurrency=concurrency,
            worker_poll_interval=0.05,
            db_pool_max=concurrency + 4,
        )
        pool = await create_pool(dsn, min_size=2, max_size=concurrency + 4)
        try:
            await seed(pool, items, recipients)
            outbox_s = await run_until(
                pool,
                settings,
                OutboxStage(pool, settings),
                "SELECT NOT EXISTS (SELECT FROM jobs WHERE kind = 'outbox')",
            )
            async with pool.acquire() as conn:
                # Statistics for the thousands of rows just written, as autovacuum would
                # gather them; without, the planner takes `cases` to be nearly empty.
                await conn.execute("ANALYZE")
            notify_s = await run_until(
                pool,
                settings,
                NotifyStage(pool, settings),
                "SELECT NOT EXISTS (SELECT FROM notices WHERE state <> 'sent')",
            )
            async with pool.acquire() as conn:
                notified = await conn.fetchval(
                    "SELECT count(*) FROM cases WHERE state = 'notified'"
                )
        finally:
            await pool.close()
    sent = smtp.count()
    sent_rate = sent / notify_s
    raw_rate = await raw_send_rate(port, 1000, concurrency, settings)
    render_ms = render_cost(200, items // recipients, settings)
    smtp.stop()
    print(f"items {items}, recipients {recipients}, concurrency {concurrency}")
    verdict = "meets" if sent == recipients else "MISSES"
    print(
        f"messages sent        {sent} (target {recipients}: {verdict}); "
        f"cases notified {notified}/{items}"
    )
    print(f"outbox (aggregation) {items / outbox_s:,.0f} items/s ({outbox_s:.2f} s)")
    rate_verdict = "meets" if sent_rate >= 200 else "BELOW"
    print(
        f"notify               {sent_rate:,.0f} messages/s ({notify_s:.2f} s; target 200/s: "
        f"{rate_verdict})"
    )
    print(f"render               {render_ms:.2f} ms per message of {items // recipients} items")
    print_ratio("notify", sent_rate, raw_rate, "msg/s", 0.25)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.items, args.recipients, args.concurrency))


if __name__ == "__main__":
    cli()
