"""Timing and EXPLAIN helpers shared by the scale benchmark and the plan tests."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Figure:
    """One measured figure with its target (lower is better)."""

    name: str
    value: float
    unit: str
    target: float
    note: str = ""

    @property
    def meets(self) -> bool:
        return self.value <= self.target

    def render(self) -> str:
        verdict = "meets" if self.meets else "ABOVE TARGET"
        line = f"{self.name:<34} {self.value:>10.2f} {self.unit:<3} (target ≤ {self.target:g}"
        return f"{line} {self.unit}: {verdict}) {self.note}".rstrip()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed_ms(call: Callable[[], Awaitable[Any]], runs: int) -> list[float]:
    """Milliseconds of each of `runs` sequential calls."""
    spent = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


async def plan_of(conn: asyncpg.Connection, sql: str, *args: Any) -> dict[str, Any]:
    """The planner's JSON plan for `sql` with these arguments (not executed)."""
    text = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
    plan: dict[str, Any] = json.loads(text)[0]["Plan"]
    return plan


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def seq_scans(plan: dict[str, Any], tables: set[str]) -> list[str]:
    """Sequential scans of any of `tables` in the plan (empty: every access uses an index)."""
    return [
        n["Relation Name"]
        for n in nodes(plan)
        if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in tables
    ]


def indexes_used(plan: dict[str, Any]) -> set[str]:
    return {n["Index Name"] for n in nodes(plan) if "Index Name" in n}
