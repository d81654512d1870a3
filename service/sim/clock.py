"""Simulated time for the world: real time times a scale, plus manual jumps for tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any


class SimClock:
    """Simulated seconds since the world started.

    `time_scale` is simulated seconds per real second (10080 runs a week in a minute);
    0 freezes time so that only `advance()` moves it, which is what tests want: no sleeps,
    every delay in the world is crossed by an explicit jump.
    """

    def __init__(self, time_scale: float = 0.0, epoch: datetime | None = None) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self.time_scale = time_scale
        self.epoch = epoch or datetime.now(UTC)
        self._real_start = time.monotonic()
        self._offset = 0.0
        # asyncio.Event binds to a loop lazily (3.10+), so it may be made outside one.
        self._moved = asyncio.Event()

    def now(self) -> float:
        """Simulated seconds elapsed since `epoch`."""
        real = time.monotonic() - self._real_start
        return real * self.time_scale + self._offset

    def datetime(self, at: float | None = None) -> datetime:
        """Simulated wall-clock time (of `at`, default now)."""
        return self.epoch + timedelta(seconds=self.now() if at is None else at)

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward and wake every `sleep()` that is now due."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += seconds
        self._wake()

    def to_real(self, sim_seconds: float) -> float | None:
        """Real seconds needed to cross `sim_seconds`; None when time is frozen."""
        return sim_seconds / self.time_scale if self.time_scale else None

    def sleep(self, sim_seconds: float) -> Coroutine[Any, Any, None]:
        """Wait `sim_seconds` of simulated time; the deadline is fixed when this is called."""
        return self.sleep_until(self.now() + sim_seconds)

    async def sleep_until(self, target: float) -> None:
        """Wait until simulated time `target` (real time passing, or `advance()`)."""
        while (remaining := target - self.now()) > 0:
            event = self._event()
            real = self.to_real(remaining)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=real)

    def _event(self) -> asyncio.Event:
        return self._moved

    def _wake(self) -> None:
        # Replace the event so that sleepers re-check their deadline exactly once per jump.
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()
