"""Registry pacing: a far slot is reserved under the lookup's ticket (PacingDeferral) and
taken when the lookup comes back; other registries are never affected; a wait for a slot
is parked (the claim loop may run other jobs meanwhile); slots leave room in a registry's
sliding window for a query that goes out late."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from itertools import pairwise

import pytest

from service import parking
from service.errors import TransientLookupError
from service.resolve.politeness import PacingDeferral, RegistryGate


def _gate() -> RegistryGate:
    # LACNIC every 0.1 s; a lookup may wait 0.05 s in the process, no longer.
    return RegistryGate({"lacnic": 600.0}, default_per_minute=60.0, max_wait=0.05)


async def _deferred(gate: RegistryGate, registry: str, ticket: str | None) -> float:
    with pytest.raises(PacingDeferral) as raised:
        await gate.acquire(registry, ticket)
    assert raised.value.retry_after is not None
    return raised.value.retry_after


async def test_far_slots_are_reserved_in_order_and_other_registries_go_at_once() -> None:
    gate = _gate()
    await gate.acquire("lacnic", "a")  # the first slot is now
    b = await _deferred(gate, "lacnic", "b")
    c = await _deferred(gate, "lacnic", "c")
    assert 0.05 < b <= 0.105 and 0.15 < c <= 0.21  # one interval apart, in arrival order
    await gate.acquire("arin", "x")
    await gate.acquire("ripe", "y")
    assert gate.waited == 0 and gate.deferred == 2  # nobody else waited behind LACNIC


async def test_a_lookup_without_ticket_reserves_nothing() -> None:
    gate = _gate()
    await gate.acquire("lacnic", "a")
    with pytest.raises(TransientLookupError) as raised:
        await gate.acquire("lacnic")
    assert not isinstance(raised.value, PacingDeferral)
    assert 0.05 < await _deferred(gate, "lacnic", "b") <= 0.105  # the slot was still free


async def test_a_ticket_takes_its_reserved_slot_and_nobody_else_does() -> None:
    gate = RegistryGate({"lacnic": 60.0}, default_per_minute=60.0, max_wait=0.5)  # ~1 s apart
    await gate.acquire("lacnic", "a")  # slot 0
    b = await _deferred(gate, "lacnic", "b")  # slot ~1 s, reserved for b
    c = await _deferred(gate, "lacnic", "c")  # slot ~2 s
    await asyncio.sleep(b - 0.4)  # the job comes back for its slot, a little early
    await gate.acquire("lacnic", "b")  # waits for its own slot, no new deferral
    assert gate.deferred == 2
    # b used its own slot and took no new one; d's is the one after c's (~3 s).
    d = await _deferred(gate, "lacnic", "d")
    assert c - b + 0.5 < d <= c + 0.01


async def test_a_wait_for_a_slot_is_parked() -> None:
    gate = RegistryGate({"lacnic": 600.0}, default_per_minute=60.0, max_wait=1.0)
    lot = parking.ParkingLot()
    seen: list[int] = []

    async def lookup() -> None:
        parking.enter(lot)
        await gate.acquire("lacnic", "a")
        await gate.acquire("lacnic", "b")  # 0.1 s away: waits, parked

    async def watch() -> None:
        while not seen or seen[-1] == 0:
            seen.append(lot.parked)
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(lookup(), watch()), 5)
    assert seen[-1] == 1 and lot.parked == 0  # parked while waiting, not after


async def test_a_ticket_back_before_its_slot_is_deferred_again_and_keeps_it() -> None:
    gate = RegistryGate({"lacnic": 60.0}, default_per_minute=60.0, max_wait=0.5)
    await gate.acquire("lacnic", "a")
    first = await _deferred(gate, "lacnic", "b")
    again = await _deferred(gate, "lacnic", "b")  # back too early (another registry's slot)
    assert again <= first and gate.deferred == 1  # the same slot, not a new one
    assert await _deferred(gate, "lacnic", "c") > first + 1.0  # c's is the next one


def _refusals(sent: list[float], limit: int, window: float) -> int:
    """How many of `sent` a registry allowing `limit` queries per sliding `window` refuses
    (the sim RDAP server's rule: a query counts within (t - window, t])."""
    seen: deque[float] = deque()
    refused = 0
    for t in sorted(sent):
        while seen and seen[0] <= t - window:
            seen.popleft()
        if len(seen) >= limit:
            refused += 1
        else:
            seen.append(t)
    return refused


async def _slots(gate: RegistryGate, n: int) -> list[float]:
    """The times of the registry's next `n` slots (reserved, not waited for)."""
    await gate.acquire("lacnic", 0)
    slots = [time.monotonic()]
    for ticket in range(1, n):
        with pytest.raises(PacingDeferral) as raised:
            await gate.acquire("lacnic", ticket)
        slots.append(time.monotonic() + (raised.value.retry_after or 0.0))
    return slots


@pytest.mark.parametrize("margin", [0.0, None])
async def test_a_late_query_is_not_refused_by_a_sliding_window(margin: float | None) -> None:
    # The registry allows exactly the published rate: 10 queries per second, counted in a
    # sliding window. The first query goes out 30 ms late (its job came back late for its
    # slot), every later one on time.
    kw = {} if margin is None else {"margin": margin}
    gate = RegistryGate({"lacnic": 600.0}, default_per_minute=60.0, max_wait=0.0, **kw)
    slots = await _slots(gate, 40)
    gaps = [b - a for a, b in pairwise(slots)]
    assert min(gaps) >= 0.1 - 5e-3 and max(gaps) - min(gaps) < 5e-3  # evenly spaced (±timer)
    sent = [slots[0] + 0.03, *slots[1:]]
    refused = _refusals(sent, limit=10, window=1.0)
    if margin == 0.0:
        assert refused > 0  # at exactly the allowed rate a late query costs a 429
    else:
        assert refused == 0  # with the default margin it never does


async def test_lookups_late_for_their_slots_go_out_one_gap_apart_not_at_once() -> None:
    # 100 queries a second; the jobs of nine reserved slots all come back after their slots
    # (the claim loop was busy, or the registry had closed meanwhile).
    gate = RegistryGate({"lacnic": 6000.0}, default_per_minute=60.0, max_wait=0.0)
    slots = await _slots(gate, 10)
    await asyncio.sleep(slots[-1] - time.monotonic() + 0.05)  # every slot has passed
    sent: list[float] = []

    async def back_for_slot(ticket: int) -> None:
        await gate.acquire("lacnic", ticket)
        sent.append(time.monotonic())

    await asyncio.wait_for(asyncio.gather(*(back_for_slot(t) for t in range(1, 10))), 5)
    gaps = [b - a for a, b in pairwise(sorted(sent))]
    assert min(gaps) >= gate.gap("lacnic") - 2e-3  # not a burst of nine
    assert _refusals([slots[0], *sent], limit=10, window=0.1) == 0
