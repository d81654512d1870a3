"""CPU time per item, read from /proc: the figure that explains a ratio.

Rates on a small machine move with whatever else runs; CPU seconds per item much less. When
every party of a benchmark (the service, its PostgreSQL backends, the peer it talks to, the
raw loop) shares the same cores and each side keeps them busy, a rate is at most
`cores / (CPU time per item)`, so the ratio of two such sides is close to the inverse ratio of
their CPU per item. Printing both makes that bound visible in every run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg


def process_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each process that still exists."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return found


async def backend_cpu(conn: asyncpg.Connection) -> dict[int, float] | None:
    """CPU seconds of each backend connected to this database (None: the server is remote)."""
    rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return process_cpu([row["pid"] for row in rows]) or None


def cpu_between(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    """CPU spent between two readings; a process born in between counts from zero."""
    if after is None:
        return None
    start = before or {}
    return sum(spent - start.get(pid, 0.0) for pid, spent in after.items())


def one_process(pid: int | None) -> float:
    return process_cpu([pid or 0]).get(pid or 0, 0.0)


@dataclass
class Cost:
    """CPU seconds one side of a benchmark spent, by who spent them."""

    client: float = 0.0  # this process
    database: float | None = None  # the bench database's backends, when the server is local
    server: float = 0.0  # the other process of the benchmark (web server, API), if any
    server_label: str | None = None

    def total(self) -> float:
        return self.client + (self.database or 0.0) + self.server

    def per_item(self, n: int) -> str:
        parts = [f"client {self.client / n * 1e6:.0f} µs"]
        if self.database is not None:
            parts.append(f"database {self.database / n * 1e6:.0f} µs")
        if self.server_label is not None:
            parts.append(f"{self.server_label} {self.server / n * 1e6:.0f} µs")
        return f"{', '.join(parts)} (total {self.total() / n * 1e6:.0f} µs)"


def print_cpu_bound(ours: Cost, raw: Cost, n_ours: int, n_raw: int, target: float) -> None:
    """The ratio CPU alone allows when both sides keep every core busy, and what ours may
    spend per item to reach the target at the raw side's cost."""
    ours_each, raw_each = ours.total() / n_ours, raw.total() / n_raw
    if ours_each <= 0 or raw_each <= 0:
        return
    print(
        f"  cpu bound: raw/ours CPU per item = {raw_each / ours_each:.2f}; the target "
        f"{target} allows ours {raw_each / target * 1e6:.0f} µs per item, it spends "
        f"{ours_each * 1e6:.0f} µs"
    )
