"""Registry pacing: a far slot is reserved under the lookup's ticket (PacingDeferral) and
taken when the lookup comes back; other registries are never affected; a wait for a slot
is parked (the claim loop may run other jobs meanwhile)."""

from __future__ import annotations

import asyncio

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
    assert 0.05 < b <= 0.1 and 0.15 < c <= 0.2  # one interval apart, in arrival order
    await gate.acquire("arin", "x")
    await gate.acquire("ripe", "y")
    assert gate.waited == 0 and gate.deferred == 2  # nobody else waited behind LACNIC


async def test_a_lookup_without_ticket_reserves_nothing() -> None:
    gate = _gate()
    await gate.acquire("lacnic", "a")
    with pytest.raises(TransientLookupError) as raised:
        await gate.acquire("lacnic")
    assert not isinstance(raised.value, PacingDeferral)
    assert 0.05 < await _deferred(gate, "lacnic", "b") <= 0.1  # the slot was still free


async def test_a_ticket_takes_its_reserved_slot_and_nobody_else_does() -> None:
    gate = RegistryGate({"lacnic": 60.0}, default_per_minute=60.0, max_wait=0.5)  # 1 s apart
    await gate.acquire("lacnic", "a")  # slot 0
    await _deferred(gate, "lacnic", "b")  # slot 1 s, reserved for b
    c = await _deferred(gate, "lacnic", "c")  # slot 2 s
    await gate.acquire("lacnic", "b")  # back for its slot: waits for it, no new deferral
    assert gate.deferred == 2
    # b used its own slot (1 s) and took no new one; d's is the one after c's (3 s).
    d = await _deferred(gate, "lacnic", "d")
    assert 1.5 < d <= c + 0.01


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
