"""At most N image decodes at once within a memory budget (per probe, i.e. per process).

Eight parallel checks that each decode a large image would each hold their pixels at the
same time. Each decode reserves its cost (from the image header, see digest.decode_cost)
before it starts; one that could never fit the budget is refused as too many pixels, the
others wait their turn.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.domain.verdicts import Failure
from service.probe.digest import BodyLimit

_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
_MMAP_THRESHOLD = 1024 * 1024


@functools.cache
def return_pixels_to_the_system() -> None:
    """Make every large allocation an mmap that is unmapped when freed (glibc; once).

    glibc raises its mmap threshold after a large block is freed, so the next image's
    pixel blocks (Pillow allocates 16 MiB at a time) come from the decoding thread's heap
    arena, which never shrinks: each decode thread then kept the largest image it had seen
    (455 MB peak for 8 checks of 8000×5000 PNGs instead of 231 MB). A fixed threshold stops
    that. Elsewhere (musl, macOS) this does nothing.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)


class DecodeGate:
    """Counts decodes in flight and the bytes they reserved."""

    def __init__(self, concurrency: int, budget_bytes: int) -> None:
        return_pixels_to_the_system()
        self.concurrency = concurrency
        self.budget = budget_bytes
        self._running = 0
        self._reserved = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def reserve(self, cost: int) -> AsyncIterator[None]:
        if cost > self.budget:
            raise BodyLimit(Failure.TOO_MANY_PIXELS, "image too large for the decode budget")
        async with self._changed:
            await self._changed.wait_for(lambda: self._fits(cost))
            self._running += 1
            self._reserved += cost
        try:
            yield
        finally:
            async with self._changed:
                self._running -= 1
                self._reserved -= cost
                self._changed.notify_all()

    def _fits(self, cost: int) -> bool:
        return self._running < self.concurrency and self._reserved + cost <= self.budget
