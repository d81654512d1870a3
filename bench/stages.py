"""Run the per-stage benchmarks in one process and collect one row of figures from each.

The stage benchmarks (bench/ingest.py, resolve.py, notify.py, recheck.py) print their own
reports; here each one runs with its output shown live and teed into a buffer, and the
`print_ratio` it calls is wrapped so the figures land in a `Row` without parsing text. The
resolve benchmark prints no ratio line, so its figures are read from its report. A stage
that is missing or fails becomes a row that says so: one broken benchmark never hides the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import re
import sys
import traceback
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class Row:
    """One line of the summary table: our rate, the raw limit, their ratio, the target."""

    stage: str
    ours: float | None = None
    raw: float | None = None
    unit: str = ""
    target: str = ""
    meets: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.raw:
            return None
        return self.ours / self.raw


@dataclass(frozen=True)
class Sizes:
    """Workload sizes of `python -m bench all`; `scaled(f)` multiplies every one."""

    reports: int = 20_000
    ingest_concurrency: int = 4
    resolve_urls: int = 5_000
    resolve_networks: int = 500
    resolve_latency: float = 0.05
    notify_items: int = 5_000
    notify_recipients: int = 500
    recheck_urls: int = 3_000
    recheck_concurrency: int = 32
    scale_cases: int = 100_000

    def scaled(self, factor: float) -> Sizes:
        def n(value: int) -> int:
            return max(1, int(value * factor))

        return Sizes(
            n(self.reports),
            self.ingest_concurrency,
            n(self.resolve_urls),
            n(self.resolve_networks),
            self.resolve_latency,
            n(self.notify_items),
            n(self.notify_recipients),
            n(self.recheck_urls),
            self.recheck_concurrency,
            n(self.scale_cases),
        )


class _Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.buffer_text = io.StringIO()

    def write(self, text: str) -> int:
        self.out.write(text)
        self.out.flush()
        return self.buffer_text.write(text)


@contextlib.contextmanager
def _ratio_recorder(module: Any, row: Row) -> Iterator[None]:
    """Wrap the module's `print_ratio` so its figures also go into `row`."""
    original = getattr(module, "print_ratio", None)
    if original is None:
        yield
        return

    def record(stage: str, ours: float, raw: float, unit: str, target: float) -> None:
        row.ours, row.raw, row.unit = ours, raw, unit
        row.target = f"ratio ≥ {target}"
        row.meets = raw > 0 and ours / raw >= target
        original(stage, ours, raw, unit, target)

    module.print_ratio = record
    try:
        yield
    finally:
        module.print_ratio = original


def run_stage(
    name: str, call: Callable[[Any], Coroutine[Any, Any, Any]], argv: list[str] | None = None
) -> tuple[Row, str]:
    """Import bench.<name>, run `call(module)`; a missing or failing stage becomes a note."""
    row = Row(name)
    print(f"\n=== {name} ===", flush=True)
    try:
        module = importlib.import_module(f"bench.{name}")
    except Exception as exc:
        row.notes.append(f"benchmark missing or broken: {type(exc).__name__}: {exc}")
        return row, ""
    tee = _Tee(sys.stdout)
    saved_argv = sys.argv
    try:
        sys.argv = [f"bench.{name}", *(argv or [])]
        with contextlib.redirect_stdout(tee), _ratio_recorder(module, row):
            asyncio.run(call(module))
    except Exception as exc:
        traceback.print_exc()
        row.notes.append(f"FAILED: {type(exc).__name__}: {exc}"[:200])
    finally:
        sys.argv = saved_argv
    return row, tee.buffer_text.getvalue()


def ingest(sizes: Sizes) -> Row:
    row, _ = run_stage(
        "ingest", lambda m: m.main(sizes.reports, sizes.ingest_concurrency), argv=None
    )
    row.notes.insert(0, f"{sizes.reports} reports via POST /api/v1/reports vs raw upsert")
    return row


def recheck(sizes: Sizes) -> Row:
    row, _ = run_stage("recheck", lambda m: m.main(sizes.recheck_urls, sizes.recheck_concurrency))
    row.notes.insert(0, f"{sizes.recheck_urls} URLs, probe stage vs aiohttp GET+sha256")
    return row


def notify(sizes: Sizes) -> Row:
    row, text = run_stage(
        "notify", lambda m: m.main(sizes.notify_items, sizes.notify_recipients, 16)
    )
    sent = re.search(r"messages sent\s+(\d+) \(target (\d+)", text)
    rate = re.search(r"notify\s+([\d,]+) messages/s", text)
    if sent:
        row.notes.append(f"messages {sent.group(1)} for {sent.group(2)} recipients")
    if rate:
        figure = float(rate.group(1).replace(",", ""))
        row.notes.append(f"{figure:,.0f} msg/s (target ≥ 200)")
        row.meets = bool(row.meets) and figure >= 200 and bool(sent)
    return row


def resolve(sizes: Sizes) -> Row:
    argv = [
        f"--urls={sizes.resolve_urls}",
        f"--networks={sizes.resolve_networks}",
        f"--latency={sizes.resolve_latency}",
        "--baseline=20",
    ]
    row, text = run_stage("resolve", lambda m: m.main(), argv=argv)
    return _resolve_figures(row, text)


def _resolve_figures(row: Row, text: str) -> Row:
    cold = re.search(r"cold wall time .*\(([\d,]+) URLs/s\)", text)
    warm = re.search(r"warm-cache rate\s+([\d,]+) URLs/s", text)
    base = re.search(r"baseline per-URL ipwhois: (\d+) ms/URL", text)
    queries = re.search(r"RDAP network queries\s+(\d+)\s+\(target (\d+)", text)
    if not (cold and warm and base):
        return row
    row.ours = float(cold.group(1).replace(",", ""))
    row.raw = 1000 / max(float(base.group(1)), 1.0)
    row.unit = "URLs/s"
    warm_rate = float(warm.group(1).replace(",", ""))
    row.target = "warm ≥ 5000/s, RDAP = networks"
    one_per_net = bool(queries) and queries.group(1) == queries.group(2)  # type: ignore[union-attr]
    row.meets = warm_rate >= 5000 and one_per_net
    row.notes.append(f"cold vs per-URL ipwhois; warm {warm_rate:,.0f} URLs/s")
    if queries:
        row.notes.append(f"RDAP {queries.group(1)} for {queries.group(2)} networks")
    return row
