"""Generate and COPY a live-looking database of N cases for the scale benchmark.

Skew like a live system: hosters are Zipf-distributed (the top few hold most cases), most
cases are removed, some are on the notice clock (notified, acknowledged, escalated — about a
fifth of those past their SLA), some unresolved, held, gone_pending or reappeared, a few still
in intake. Every case gets its routing row (when resolved), a chained event per transition
(the audit hash computed here exactly as the trigger would, with the trigger off for the
COPY), and a probe job on its schedule: spread over the coming days, about 2 % due. Notices,
notice items, escalation ladders, hoster answers, holds, contact health and probe streaks
are derived in SQL from those rows, and the statistics counts (migration 0096) rebuilt from
them in one pass (stats_rebuild(), the migration's backfill) with their row triggers off.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

import asyncpg

from bench.scale_sql import DERIVED, FINISH
from service.db.audit import event_hash

CHUNK = 50_000
STATES = {  # share of cases per state, like a system that has run for a year
    "removed": 0.74,
    "notified": 0.08,
    "acknowledged": 0.05,
    "escalated": 0.02,
    "gone_pending": 0.02,
    "unresolved": 0.04,
    "held": 0.01,
    "reappeared": 0.01,
    "resolved": 0.01,
    "resolving": 0.01,
    "received": 0.01,
}
PATHS = {  # the transitions each state went through after 'received'
    "received": [],
    "resolving": ["resolving"],
    "resolved": ["resolving", "resolved"],
    "unresolved": ["resolving", "unresolved"],
    "held": ["resolving", "resolved", "held"],
    "notified": ["resolving", "resolved", "notified"],
    "acknowledged": ["resolving", "resolved", "notified", "acknowledged"],
    "escalated": ["resolving", "resolved", "notified", "escalated"],
    "gone_pending": ["resolving", "resolved", "notified", "gone_pending"],
    "removed": ["resolving", "resolved", "notified", "gone_pending", "removed"],
    "reappeared": ["resolving", "resolved", "notified", "gone_pending", "removed", "reappeared"],
}
PROBED = {"notified", "acknowledged", "escalated", "gone_pending", "reappeared", "held"}
COUNTRIES = ["US", "DE", "NL", "FR", "RU", "GB", "CA", "SG", "UA", "BG"]
CASE_COLUMNS = [
    "id", "url", "url_original", "host", "sha256", "pdq", "media_type", "scanner_id",
    "source_ref", "state", "detected_at", "received_at", "resolved_at", "first_notice_at",
    "acknowledged_at", "first_gone_at", "removed_at", "reappeared_at", "last_checked_at",
    "updated_at",
]  # fmt: skip
ROUTE_COLUMNS = ["case_id", "decided_at", "hoster", "asn", "country", "recipients",
                 "no_contact_reason"]  # fmt: skip
EVENT_COLUMNS = ["id", "case_id", "at", "actor", "kind", "from_state", "to_state", "detail"]
JOB_COLUMNS = ["kind", "case_id", "run_at"]


@dataclass
class Chunk:
    """Rows of one COPY round."""

    cases: list[tuple[Any, ...]] = field(default_factory=list)
    routes: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    jobs: list[tuple[Any, ...]] = field(default_factory=list)


class World:
    """Deterministic generator of cases (seeded), one chunk at a time."""

    def __init__(self, cases: int, scanner_id: int, now: datetime, seed: int = 9) -> None:
        self.total = cases
        self.scanner_id = scanner_id
        self.now = now
        self.rand = random.Random(seed)
        self.hosters = max(50, cases // 500)
        self.hoster_weights = list(accumulate(1 / (r + 1) ** 1.2 for r in range(self.hosters)))
        self.state_names = list(STATES)
        self.state_weights = list(accumulate(STATES.values()))
        self.next_event = 1

    def chunks(self) -> Iterator[Chunk]:
        for start in range(1, self.total + 1, CHUNK):
            chunk = Chunk()
            stop = min(start + CHUNK, self.total + 1)
            hosters = self.rand.choices(
                range(self.hosters), cum_weights=self.hoster_weights, k=stop - start
            )
            states = self.rand.choices(
                self.state_names, cum_weights=self.state_weights, k=stop - start
            )
            for case_id, hoster, state in zip(range(start, stop), hosters, states, strict=True):
                self._case(chunk, case_id, hoster, state)
            yield chunk

    def _case(self, chunk: Chunk, case_id: int, hoster: int, state: str) -> None:
        clock = self._clock(state)
        host = f"cdn{case_id % 5}.hoster{hoster}.example"
        url = f"https://{host}/media/{case_id}/image.jpg"
        digest = hashlib.sha256(case_id.to_bytes(8, "big")).hexdigest()
        pdq = digest[::-1] if case_id % 3 == 0 else None
        chunk.cases.append((
            case_id, url, url, host, digest, pdq, "image/jpeg", self.scanner_id,
            f"scan-{case_id}", state, clock["detected_at"], clock["received_at"],
            clock.get("resolved_at"), clock.get("first_notice_at"), clock.get("acknowledged_at"),
            clock.get("first_gone_at"), clock.get("removed_at"), clock.get("reappeared_at"),
            clock.get("last_checked_at"), clock["updated_at"],
        ))  # fmt: skip
        if "resolved_at" in clock:
            chunk.routes.append(self._route(case_id, hoster, state, clock["resolved_at"]))
        self._events(chunk, case_id, state, clock)
        self._job(chunk, case_id, state)

    def _clock(self, state: str) -> dict[str, datetime]:
        r, now = self.rand, self.now
        if state in {"notified", "acknowledged", "escalated", "gone_pending"}:
            notice_age = timedelta(days=r.expovariate(1 / 2.0))  # ~22 % past a 72 h SLA
            detected = now - notice_age - timedelta(hours=r.uniform(0.1, 3))
        elif state in {"received", "resolving"}:
            detected = now - timedelta(minutes=r.uniform(3, 30))
        else:
            detected = now - timedelta(days=r.uniform(0, 365), minutes=10)
        clock = {"detected_at": detected, "received_at": detected + timedelta(minutes=2)}
        steps = PATHS[state]
        at = clock["received_at"]
        stamp = {"resolved": "resolved_at", "unresolved": "resolved_at", "held": "resolved_at",
                 "notified": "first_notice_at", "acknowledged": "acknowledged_at",
                 "gone_pending": "first_gone_at", "removed": "removed_at",
                 "reappeared": "reappeared_at"}  # fmt: skip
        for step in steps:
            at = min(at + self._delay(step), now)
            clock.setdefault(stamp.get(step, "_" + step), at)
            clock["_" + step] = at
        if state == "unresolved" or state == "held":
            clock.setdefault("resolved_at", clock["received_at"] + timedelta(minutes=1))
        if state != "received":
            clock["last_checked_at"] = min(at + timedelta(hours=1), now)
        clock["updated_at"] = at
        return clock

    def _delay(self, step: str) -> timedelta:
        typical = {"gone_pending": 2 * 86400.0, "removed": 3600.0, "reappeared": 20 * 86400.0}
        return timedelta(seconds=self.rand.expovariate(1 / typical.get(step, 120.0)))

    def _route(self, case_id: int, hoster: int, state: str, at: datetime) -> tuple[Any, ...]:
        country = COUNTRIES[hoster % len(COUNTRIES)]
        if state == "unresolved":
            return (case_id, at, None, None, None, "[]", "no abuse contact found")
        address = f"abuse@hoster{hoster}.example"
        recipients = (
            f'[{{"address": "{address}", "role": "abuse", "source": "rdap", '
            f'"confidence": "high", "language": "en", "rank": 0}}]'
        )
        return (case_id, at, f"Hoster {hoster}", 64500 + hoster, country, recipients, None)

    def _events(self, chunk: Chunk, case_id: int, state: str, clock: dict[str, datetime]) -> None:
        prev_hash: bytes | None = None
        previous: str | None = None
        steps = [("received", "scanner:bench", clock["received_at"])]
        steps += [(s, "worker:bench", clock["_" + s]) for s in PATHS[state]]
        for to_state, actor, at in steps:
            kind = "received" if previous is None else "transition"
            detail = '{"via": "api"}' if previous is None else "{}"
            event = {"id": self.next_event, "case_id": case_id, "at": at, "actor": actor,
                     "kind": kind, "from_state": previous, "to_state": to_state,
                     "detail_text": detail}  # fmt: skip
            this_hash = event_hash(prev_hash, event)
            chunk.events.append((self.next_event, case_id, at, actor, kind, previous, to_state,
                                 detail, prev_hash, this_hash))  # fmt: skip
            prev_hash = this_hash
            self.next_event += 1
            previous = to_state

    def _job(self, chunk: Chunk, case_id: int, state: str) -> None:
        r, now = self.rand, self.now
        if state in {"received", "resolving"}:
            chunk.jobs.append(("resolve", case_id, now - timedelta(seconds=r.uniform(0, 60))))
        elif state == "resolved":
            chunk.jobs.append(("outbox", case_id, now + timedelta(minutes=r.uniform(0, 10))))
        elif state in PROBED or (state == "removed" and r.random() < 0.4):  # watch checks
            due = r.random() < 0.02
            offset = -r.uniform(0, 3600) if due else r.uniform(60, 3 * 86400)
            chunk.jobs.append(("probe", case_id, now + timedelta(seconds=offset)))


async def load(conn: asyncpg.Connection, cases: int, scanner_id: int) -> float:
    """COPY `cases` generated cases with their rows; seconds taken (analysed afterwards)."""
    started = time.perf_counter()
    world = World(cases, scanner_id, await conn.fetchval("SELECT now()"))
    await _triggers(conn, "DISABLE")
    try:
        for chunk in world.chunks():
            await conn.copy_records_to_table("cases", records=chunk.cases, columns=CASE_COLUMNS)
            await conn.copy_records_to_table(
                "case_routes", records=chunk.routes, columns=ROUTE_COLUMNS
            )
            await conn.copy_records_to_table(
                "case_events", records=chunk.events, columns=[*EVENT_COLUMNS, "prev_hash", "hash"]
            )
            await conn.copy_records_to_table("jobs", records=chunk.jobs, columns=JOB_COLUMNS)
        for statement in DERIVED:
            await conn.execute(statement)
        # the statistics counts in one set-based pass, as the migration's backfill does
        await conn.execute("SELECT stats_rebuild()")
    finally:
        await _triggers(conn, "ENABLE")
    for statement in FINISH:
        await conn.execute(statement)
    return time.perf_counter() - started


# Row-by-row work a bulk load replaces with one pass: the audit chain (events are COPYed
# chained) and the statistics counts of 0096 (stats_rebuild() after the load).
BULK_TRIGGERS = (
    ("case_events", "case_events_chain"),
    ("cases", "stats_cases_insert"),
    ("case_routes", "stats_routes_insert"),
    ("notice_items", "stats_items_insert"),
)


async def _triggers(conn: asyncpg.Connection, action: str) -> None:
    for table, trigger in BULK_TRIGGERS:
        await conn.execute(f"ALTER TABLE {table} {action} TRIGGER {trigger}")
