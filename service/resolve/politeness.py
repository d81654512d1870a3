"""Politeness towards registries: per-registry pacing, Retry-After, and coalescing.

Registries block clients that query too fast (LACNIC after about 10 queries a minute; RIPE
has banned heavy clients for good). Each registry gets a pace (`settings.rdap_rate_limits`,
queries per minute) shared by every lookup of this process; a 429 closes that registry until
its Retry-After has passed. Identical lookups running at the same time share one query
(`Coalescer`).

One throttled registry never holds up another: a lookup waiting for its registry's slot is
parked (`service.parking`: its worker slot goes to other jobs meanwhile), and a lookup whose
slot is further off than `rdap_max_wait` is not kept waiting in the process at all: the slot
is reserved for it under a ticket (its coalescing key) and it raises `PacingDeferral`, so its
job comes back just before the slot and uses it. The registry's queries stay evenly paced and
its slots are neither lost (a reservation is kept for its ticket) nor taken twice.

Queries are spaced a little wider than the published rate (`PACING_MARGIN`): registries count
queries in a sliding window, so at exactly the allowed rate a query that goes out late (its
job came back late for its slot) followed by on-time ones puts one query too many in a window,
and the registry answers 429 and closes for its Retry-After. A polite client is never refused.
And a late query never bunches with others: whatever its slot, a query goes out at least
`gap` after the registry's previous one (jobs late for their slots, or all coming back when a
closed registry reopens, are let through one gap apart instead of all at once).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from service.errors import TransientLookupError
from service.parking import parked
from service.settings import Settings

T = TypeVar("T")
# A reserved slot is kept this long after its time for a job that comes back late.
TICKET_GRACE = 120.0
# Slots are this much further apart than the published rate allows (queries at ~95 % of
# it): the room in each sliding window for queries that went out late.
PACING_MARGIN = 0.05


class PacingDeferral(TransientLookupError):
    """The registry's next free slot is `retry_after` seconds away, more than a lookup may
    wait in the process; it is reserved for the lookup's ticket. Not a failure: the job
    should come back shortly before it (no backoff, no attempt counted)."""

    def __init__(self, registry: str, wait: float) -> None:
        super().__init__(f"{registry}: next query slot in {wait:.1f} s, reserved", wait)
        self.registry = registry


class RegistryGate:
    """Paces queries per registry and remembers when a registry asked us to back off."""

    def __init__(
        self,
        per_minute: dict[str, float],
        default_per_minute: float,
        max_wait: float,
        margin: float = PACING_MARGIN,
    ) -> None:
        self.per_minute = {k.lower(): v for k, v in per_minute.items()}
        self.default = default_per_minute
        self.max_wait = max_wait
        self.margin = margin
        self._next_slot: dict[str, float] = {}
        self._last_sent: dict[str, float] = {}
        self._closed_until: dict[str, float] = {}
        # (registry, ticket) → the reserved slot, in slot order (oldest first).
        self._tickets: OrderedDict[tuple[str, Hashable], float] = OrderedDict()
        self.waited = 0.0
        self.deferred = 0

    def interval(self, registry: str) -> float:
        return 60.0 / self.per_minute.get(registry, self.default) * (1.0 + self.margin)

    async def acquire(self, registry: str, ticket: Hashable | None = None) -> None:
        """Wait for this registry's next slot (parked); raise when it is far off.

        With a `ticket` (the lookup's coalescing key), a far slot is reserved under it and
        `PacingDeferral` raised; the next acquire with that ticket takes the reserved slot
        (one still far off is kept and deferred to again: a lookup deferred for another
        registry's slot may come back before this one's). Without a ticket, a far slot is not
        reserved and TransientLookupError says how far."""
        now = time.monotonic()
        closed = self._closed_until.get(registry, 0.0) - now
        if closed > 0:
            raise TransientLookupError(f"{registry} asked us to wait", retry_after=closed)
        self._expire(now)
        slot = self._ticketed(registry, ticket, now) if ticket is not None else None
        if slot is None:
            slot = self._reserve(registry, now, ticket)
        await self._wait(self._send_time(registry, max(slot, now)) - now)

    def gap(self, registry: str) -> float:
        """The least time between two queries actually sent: half the margin is kept for
        room in the registry's window, the other half lets a late query's followers catch up
        with their slots."""
        return 60.0 / self.per_minute.get(registry, self.default) * (1.0 + self.margin / 2)

    def _send_time(self, registry: str, slot: float) -> float:
        at = max(slot, self._last_sent.get(registry, float("-inf")) + self.gap(registry))
        self._last_sent[registry] = at
        return at

    def _ticketed(self, registry: str, ticket: Hashable, now: float) -> float | None:
        """The slot reserved for `ticket`, taken; still kept (and deferred to) if far off."""
        slot = self._tickets.get((registry, ticket))
        if slot is not None and slot - now > self.max_wait:
            raise PacingDeferral(registry, slot - now)
        return self._tickets.pop((registry, ticket), None)

    def _reserve(self, registry: str, now: float, ticket: Hashable | None) -> float:
        slot = max(now, self._next_slot.get(registry, now))
        wait = slot - now
        if wait > self.max_wait and ticket is None:
            raise TransientLookupError(f"{registry} query budget spent", retry_after=wait)
        self._next_slot[registry] = slot + self.interval(registry)
        if wait > self.max_wait:
            self._tickets[(registry, ticket)] = slot
            self.deferred += 1
            raise PacingDeferral(registry, wait)
        return slot

    async def _wait(self, wait: float) -> None:
        if wait > 0:
            self.waited += wait
            async with parked():  # the worker slot serves other registries meanwhile
                await asyncio.sleep(wait)  # pacing, not synchronisation: the slot is reserved

    def _expire(self, now: float) -> None:
        """Forget reservations whose lookup never came back (their slot is lost)."""
        while self._tickets:
            key, slot = next(iter(self._tickets.items()))
            if slot + TICKET_GRACE >= now:
                return
            del self._tickets[key]

    def back_off(self, registry: str, seconds: float) -> None:
        """A 429 (or 503 with Retry-After): close the registry for `seconds`."""
        until = time.monotonic() + max(seconds, 1.0)
        self._closed_until[registry] = max(self._closed_until.get(registry, 0.0), until)


def gate_for(settings: Settings) -> RegistryGate:
    return RegistryGate(
        settings.rdap_rate_limits, settings.rdap_default_rate, settings.rdap_max_wait
    )


class Coalescer:
    """Runs one call per key at a time; concurrent callers of the same key share its result."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[Any]] = {}
        self.shared = 0

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        running = self._running.get(key)
        if running is not None:
            self.shared += 1
            try:
                async with parked():  # waiting for the leader's answer needs no slot
                    result: T = await asyncio.shield(running)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if running.cancelled() and task is not None and not task.cancelling():
                    return await self.run(key, call)  # the leader was cancelled, not us
                raise
            return result
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            value = await call()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: followers re-raise it, nobody logs it twice
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._running[key]


def parse_retry_after(value: str | None, default: float = 60.0) -> float:
    """Seconds from a Retry-After header (delta-seconds; HTTP dates fall back to default)."""
    if not value:
        return default
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        return default
