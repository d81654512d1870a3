"""`bench growth`'s exponents and projection: v ∝ n^b fitted between sizes."""

from __future__ import annotations

import pytest

from bench import growth
from bench.plans import Figure


def test_exponents_and_projection() -> None:
    results = {
        10_000: [Figure("flat", 2.0, "ms", 5, ""), Figure("linear", 0.01, "s", 1, "")],
        100_000: [Figure("flat", 2.0, "ms", 5, ""), Figure("linear", 0.1, "s", 1, "")],
        1_000_000: [Figure("flat", 2.0, "ms", 5, ""), Figure("linear", 1.0, "s", 1, "")],
    }
    assert growth.exponent(10_000, 0.01, 1_000_000, 1.0) == pytest.approx(1.0)
    assert growth.exponent(10_000, 0.0, 1_000_000, 1.0) is None  # nothing to fit
    table = growth.table(results)
    assert "| flat | ≤ 5 ms | 2.00 ms | 2.00 ms | 2.00 ms | +0.00 | +0.00 | 2.00 ms |" in table
    assert "| linear | ≤ 1 s | 0.01 s | 0.10 s | 1.00 s | +1.00 | +1.00 | 10.00 s ✗ |" in table
    lines = growth.exponents(results).splitlines()
    assert lines == [
        "growth exponent +0.00 (10 k→1 M; last decade +0.00): flat",
        "growth exponent +1.00 (10 k→1 M; last decade +1.00): linear",
    ]
