"""The contact book and partner hotlines as seen by the resolver: a refreshed snapshot.

Both tables are small and read for every case, so each resolver keeps a snapshot and reloads
it every few seconds (a rule added with the CLI applies to cases resolved after that).
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg

from service.db import resolve_repo
from service.domain.contact_book import CONTACT_BOOK_REFRESH, Subject, matching_rules
from service.domain.routing import BookRule, Hotline

REFRESH_SECONDS = CONTACT_BOOK_REFRESH.total_seconds()


def to_hotline(row: dict[str, Any]) -> Hotline:
    return Hotline(
        country=row["country"],
        name=row["name"],
        address=row.get("address"),
        language=row.get("language"),
        policy=row.get("policy") or "direct",
    )


class ContactBook:
    """Contact-book rules and hotlines, reloaded from Postgres at most every few seconds."""

    def __init__(self, pool: asyncpg.Pool, refresh: float = REFRESH_SECONDS) -> None:
        self.pool = pool
        self.refresh = refresh
        self._rules: list[dict[str, Any]] = []
        self._hotlines: dict[str, Hotline] = {}
        self._loaded_at = float("-inf")

    async def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at < self.refresh:
            return
        async with self.pool.acquire() as conn:
            self._rules = await resolve_repo.all_rules(conn)
            rows = await resolve_repo.all_hotlines(conn)
        self._hotlines = {r["country"]: to_hotline(r) for r in rows}
        self._loaded_at = time.monotonic()

    async def rules_for(self, subject: Subject) -> tuple[BookRule, ...]:
        await self._fresh()
        return matching_rules(self._rules, subject)

    async def hotlines(self) -> dict[str, Hotline]:
        await self._fresh()
        return self._hotlines
