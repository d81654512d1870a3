"""Exponential backoff that never overflows: base, 2·base, 4·base, … up to a cap."""

from __future__ import annotations

from datetime import timedelta


def exponential_backoff(attempts: int, base: timedelta, cap: timedelta) -> timedelta:
    """The wait after the `attempts`-th failure in a row. The exponent stops growing once the
    cap is reached: `base * 2**(attempts - 1)` overflows timedelta after about 40 doublings,
    which three days of retries (or a week-long outage) easily reach."""
    doublings = 0
    while doublings < attempts - 1 and base * 2**doublings < cap:
        doublings += 1
    return min(base * 2**doublings, cap)
