"""Webhook receivers and their deliveries (queries/webhooks.sql)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypedDict, cast

import asyncpg

from service.db.queries import q


class AddedWebhook(TypedDict):
    """A receiver just added (no secret: the use case holds it)."""

    id: int
    scanner_id: int
    url: str
    created_at: datetime


class WebhookListing(TypedDict):
    """A live receiver as analysts and hotlines see it: its scanner and delivery counts."""

    id: int
    scanner: str
    url: str
    created_at: datetime
    created_by: str
    pending: int
    delivered: int
    parked: int


class LiveWebhook(TypedDict):
    """A live receiver with its secret and feed position (txid as text, outcome id)."""

    id: int
    scanner_id: int
    url: str
    secret: str
    cursor_txid: str
    cursor_id: int


class DueDelivery(TypedDict):
    """A delivery due now, with the outcome and case its payload describes."""

    id: int
    outcome_id: int
    case_id: int
    attempts: int
    first_failed_at: datetime | None
    outcome: str
    case_state: str
    reason: str | None
    at: datetime
    url: str
    source_ref: str
    first_gone_at: datetime | None
    removed_at: datetime | None


class ParkedDelivery(TypedDict):
    """A delivery that gave up after the retry period (for analysts)."""

    id: int
    webhook_id: int
    url: str
    scanner: str
    case_id: int
    outcome: str
    at: datetime
    attempts: int
    first_failed_at: datetime | None
    parked_at: datetime | None
    last_error: str | None


async def insert_webhook(
    conn: asyncpg.Connection,
    *,
    scanner_id: int,
    url: str,
    secret: str,
    position: tuple[int, int],
    created_by: str,
) -> AddedWebhook:
    row = await conn.fetchrow(
        q("insert_webhook"), scanner_id, url, secret, str(position[0]), position[1], created_by
    )
    return cast(AddedWebhook, dict(row))


async def list_webhooks(conn: asyncpg.Connection, scanner_id: int | None) -> list[WebhookListing]:
    rows = await conn.fetch(q("list_webhooks"), scanner_id)
    return [cast(WebhookListing, dict(r)) for r in rows]


async def remove_webhook(conn: asyncpg.Connection, webhook_id: int) -> bool:
    return await conn.fetchval(q("remove_webhook"), webhook_id) is not None


async def webhook_for_update(conn: asyncpg.Connection, webhook_id: int) -> LiveWebhook | None:
    row = await conn.fetchrow(q("webhook_for_update"), webhook_id)
    return cast(LiveWebhook, dict(row)) if row else None


async def live_webhook(conn: asyncpg.Connection, webhook_id: int) -> LiveWebhook | None:
    row = await conn.fetchrow(q("live_webhook"), webhook_id)
    return cast(LiveWebhook, dict(row)) if row else None


async def insert_deliveries(
    conn: asyncpg.Connection, webhook_id: int, outcome_ids: list[int], position: tuple[int, int]
) -> None:
    await conn.execute(
        q("insert_deliveries"), webhook_id, outcome_ids, str(position[0]), position[1]
    )


async def due_deliveries(
    conn: asyncpg.Connection, webhook_id: int, limit: int
) -> list[DueDelivery]:
    rows = await conn.fetch(q("due_deliveries"), webhook_id, limit)
    return [cast(DueDelivery, dict(r)) for r in rows]


async def next_delivery_at(conn: asyncpg.Connection, webhook_id: int) -> Any:
    return await conn.fetchval(q("next_delivery_at"), webhook_id)


async def delivery_succeeded(conn: asyncpg.Connection, delivery_id: int) -> None:
    await conn.execute(q("delivery_succeeded"), delivery_id)


async def delivery_failed(
    conn: asyncpg.Connection,
    delivery_id: int,
    error: str,
    retry_in: timedelta,
    give_up_after: timedelta,
) -> str | None:
    """Record a failed attempt; the delivery's state after it ('pending' or 'parked')."""
    state: str | None = await conn.fetchval(
        q("delivery_failed"), delivery_id, error[:500], retry_in, give_up_after
    )
    return state


async def parked_deliveries(conn: asyncpg.Connection, limit: int) -> list[ParkedDelivery]:
    rows = await conn.fetch(q("parked_deliveries"), limit)
    return [cast(ParkedDelivery, dict(r)) for r in rows]


async def retry_parked(conn: asyncpg.Connection, webhook_id: int) -> int:
    return len(await conn.fetch(q("retry_parked"), webhook_id))


async def live_webhook_ids(conn: asyncpg.Connection) -> list[int]:
    return [r["id"] for r in await conn.fetch(q("live_webhook_ids"))]
