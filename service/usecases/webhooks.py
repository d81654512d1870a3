"""Scanners' webhook receivers: adding, listing and removing them, and delivering outcomes.

Each outcome of a scanner's case becomes one delivery per live receiver of that scanner, in
feed order; a delivery is retried with exponential backoff for `webhook_retry_for` (three
days by default) and then parked, which shows it to analysts. Order is kept per case: a
delivery is sent only once the earlier ones of its case were delivered, so a parked one holds
its case's later ones back until an analyst sends them again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import asyncpg

from service import observability as obs
from service.db import jobs, tokens, webhook_repo
from service.db.webhook_repo import DueDelivery, LiveWebhook, ParkedDelivery, WebhookListing
from service.domain.backoff import exponential_backoff
from service.domain.webhooks import Message, new_secret, outcome_message
from service.notify.webhooks import DeliveryFailed, WebhookSender
from service.settings import Settings
from service.usecases.feed import feed_horizon, feed_item, read_feed

JOB_KIND = "webhook"
FAN_OUT_PAGE = 500
ROUND_SIZE = 50
PARALLEL_CASES = 8


class WebhookError(ValueError):
    """A request about webhooks that cannot be done (unknown scanner, bad URL)."""


@dataclass(frozen=True)
class NewWebhook:
    id: int
    scanner: str
    url: str
    secret: str  # shown once


def check_url(url: str) -> str:
    """An http(s) URL with a host and no credentials, else WebhookError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookError(f"not a URL: {exc}") from exc
    del port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("the URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise WebhookError("the URL must not carry credentials")
    if len(url) > 2048:
        raise WebhookError("the URL is longer than 2048 characters")
    return url


async def add_webhook(pool: asyncpg.Pool, scanner: str, url: str, *, actor: str) -> NewWebhook:
    """A receiver for the scanner's outcomes from now on; its secret is returned once."""
    check_url(url)
    secret = new_secret()
    async with pool.acquire() as conn, conn.transaction():
        token = await tokens.live_token_by_name(conn, scanner)
        if token is None or token.role != "scanner":
            raise WebhookError(f"no live scanner token named {scanner!r}")
        row = await webhook_repo.insert_webhook(
            conn,
            scanner_id=token.id,
            url=url,
            secret=secret,
            position=await feed_horizon(conn),
            created_by=actor,
        )
        await jobs.ensure_ref_job(conn, JOB_KIND, row["id"])
    return NewWebhook(row["id"], scanner, url, secret)


async def list_webhooks(pool: asyncpg.Pool, scanner: str | None = None) -> list[WebhookListing]:
    """Live receivers (of one scanner) with pending, delivered and parked counts; no secret."""
    async with pool.acquire() as conn:
        scanner_id = None
        if scanner is not None:
            token = await tokens.live_token_by_name(conn, scanner)
            if token is None:
                raise WebhookError(f"no live scanner token named {scanner!r}")
            scanner_id = token.id
        return await webhook_repo.list_webhooks(conn, scanner_id)


async def remove_webhook(pool: asyncpg.Pool, webhook_id: int) -> bool:
    """Stop a receiver; False when there is no live one with that id."""
    async with pool.acquire() as conn:
        return await webhook_repo.remove_webhook(conn, webhook_id)


async def parked_deliveries(pool: asyncpg.Pool, limit: int = 200) -> list[ParkedDelivery]:
    """Deliveries that gave up after the retry period, newest first (for analysts)."""
    async with pool.acquire() as conn:
        return await webhook_repo.parked_deliveries(conn, limit)


async def retry_parked(pool: asyncpg.Pool, webhook_id: int) -> int:
    """Send a receiver's parked deliveries again; how many were parked."""
    async with pool.acquire() as conn, conn.transaction():
        retried = await webhook_repo.retry_parked(conn, webhook_id)
        if retried:
            await jobs.enqueue_for_ref(conn, JOB_KIND, webhook_id)
    return retried


async def _fan_out(conn: asyncpg.Connection, webhook_id: int) -> LiveWebhook | None:
    """Turn the scanner's new outcomes into deliveries; the receiver, or None if removed."""
    hook = await webhook_repo.live_webhook(conn, webhook_id)
    if hook is None:
        return None
    position = (int(hook["cursor_txid"]), int(hook["cursor_id"]))
    if not (await read_feed(conn, hook["scanner_id"], position, 1))[0]:
        # nothing new (the usual answer, every poll): no transaction id, no lock taken
        return hook
    async with conn.transaction():
        hook = await webhook_repo.webhook_for_update(conn, webhook_id)
        if hook is None:
            return None
        position = (int(hook["cursor_txid"]), int(hook["cursor_id"]))
        items, after = await read_feed(conn, hook["scanner_id"], position, FAN_OUT_PAGE)
        if items:
            await webhook_repo.insert_deliveries(conn, webhook_id, [i.id for i in items], after)
    return hook


def _message(row: DueDelivery) -> Message:
    item = feed_item(row | {"id": row["outcome_id"]})
    return outcome_message(row["outcome_id"], row["outcome"], row["at"], item.as_json())


async def _attempt(
    sender: WebhookSender, hook: LiveWebhook, row: DueDelivery, gate: asyncio.Semaphore
) -> str | None:
    """Send one delivery; None when taken, else why not."""
    async with gate:
        try:
            await sender.send(hook["url"], _message(row), hook["secret"])
        except DeliveryFailed as exc:
            return str(exc)
    return None


def retry_delay(attempts: int, settings: Settings) -> timedelta:
    """Exponential backoff after the `attempts`-th failure: base, 2·base, 4·base, … ≤ max."""
    return exponential_backoff(attempts, settings.webhook_retry_base, settings.webhook_retry_max)


async def _record(
    pool: asyncpg.Pool,
    settings: Settings,
    rows: Sequence[DueDelivery],
    errors: Sequence[str | None],
) -> None:
    async with pool.acquire() as conn:
        await _record_each(conn, settings, rows, errors)


async def _record_each(
    conn: asyncpg.Connection,
    settings: Settings,
    rows: Sequence[DueDelivery],
    errors: Sequence[str | None],
) -> None:
    for row, error in zip(rows, errors, strict=True):
        if error is None:
            await webhook_repo.delivery_succeeded(conn, row["id"])
            obs.WEBHOOK_DELIVERIES.labels(result="delivered").inc()
            continue
        delay = retry_delay(row["attempts"] + 1, settings)
        state = await webhook_repo.delivery_failed(
            conn, row["id"], error, delay, settings.webhook_retry_for
        )
        obs.WEBHOOK_DELIVERIES.labels(result="parked" if state == "parked" else "failed").inc()


async def deliver_round(
    pool: asyncpg.Pool, settings: Settings, sender: WebhookSender, webhook_id: int
) -> datetime | None:
    """Fan out new outcomes and send what is due (the head of each case, in parallel); when
    to run again, or None when the receiver was removed."""
    async with pool.acquire() as conn:
        hook = await _fan_out(conn, webhook_id)
        if hook is None:
            return None
        due = await webhook_repo.due_deliveries(conn, webhook_id, ROUND_SIZE)
    now = datetime.now(UTC)
    if due:
        gate = asyncio.Semaphore(PARALLEL_CASES)
        errors = await asyncio.gather(*(_attempt(sender, hook, row, gate) for row in due))
        # what was sent is recorded even when the worker is stopping meanwhile
        await asyncio.shield(_record(pool, settings, due, errors))
        if any(e is None for e in errors):
            return now  # the next delivery of those cases may be due right away
    async with pool.acquire() as conn:
        next_due = await webhook_repo.next_delivery_at(conn, webhook_id)
    poll = now + timedelta(seconds=settings.webhook_poll_interval)
    return min(next_due, poll) if next_due else poll
