"""Politeness towards registries: per-registry pacing, Retry-After, and coalescing.

Registries block clients that query too fast (LACNIC after about 10 queries a minute; RIPE
has banned heavy clients for good). Each registry gets a pace (`settings.rdap_rate_limits`,
queries per minute) shared by every lookup of this process; a 429 closes that registry until
its Retry-After has passed. A lookup that would wait longer than `rdap_max_wait` gives up
with a TransientLookupError carrying the wait, so the job is retried later instead of holding
a worker slot. Identical lookups running at the same time share one query (`Coalescer`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from service.errors import TransientLookupError
from service.settings import Settings

T = TypeVar("T")


class RegistryGate:
    """Paces queries per registry and remembers when a registry asked us to back off."""

    def __init__(
        self, per_minute: dict[str, float], default_per_minute: float, max_wait: float
    ) -> None:
        self.per_minute = {k.lower(): v for k, v in per_minute.items()}
        self.default = default_per_minute
        self.max_wait = max_wait
        self._next_slot: dict[str, float] = {}
        self._closed_until: dict[str, float] = {}
        self.waited = 0.0

    def interval(self, registry: str) -> float:
        return 60.0 / self.per_minute.get(registry, self.default)

    async def acquire(self, registry: str) -> None:
        """Wait for this registry's next slot; raise TransientLookupError if it is far off."""
        now = time.monotonic()
        closed = self._closed_until.get(registry, 0.0) - now
        if closed > 0:
            raise TransientLookupError(f"{registry} asked us to wait", retry_after=closed)
        slot = max(now, self._next_slot.get(registry, now))
        wait = slot - now
        if wait > self.max_wait:
            raise TransientLookupError(f"{registry} query budget spent", retry_after=wait)
        self._next_slot[registry] = slot + self.interval(registry)
        if wait > 0:
            self.waited += wait
            await asyncio.sleep(wait)  # pacing, not synchronisation: the slot is reserved

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
