"""Parking: a job that waits for someone else gives its worker slot back while it waits.

A claim loop runs at most `worker_concurrency` jobs at a time so that the database, the CPU
and the peers see a bounded load. A job waiting for a registry's next query slot (pacing) or
for another job's lookup of the same network (coalescing) puts no load on anything; counted
as busy, it would keep a slot from a job for another registry — one throttled registry
holding up every other. Code that waits like that wraps the wait in `parked()`: the loop
running the job (if any) counts it as parked and may claim other work meanwhile, up to its
own bound on parked jobs.

It lives outside the layers (like `netguard`): the resolver, an edge, marks the waits, and
the claim loop, a worker, reads the count; neither imports the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar


class ParkingLot:
    """How many of a loop's jobs are parked; `on_change` wakes the loop's claimer."""

    def __init__(self, on_change: Callable[[], None] = lambda: None) -> None:
        self.parked = 0
        self.on_change = on_change


_lot: ContextVar[ParkingLot | None] = ContextVar("parking_lot", default=None)


def enter(lot: ParkingLot) -> None:
    """Called by the claim loop in each job's own task: waits in it park in `lot`."""
    _lot.set(lot)


@asynccontextmanager
async def parked() -> AsyncIterator[None]:
    """Around a wait that needs no worker slot. Outside a claim loop it does nothing."""
    lot = _lot.get()
    if lot is None:
        yield
        return
    lot.parked += 1
    lot.on_change()
    try:
        yield
    finally:
        lot.parked -= 1
