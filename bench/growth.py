"""Growth: the scale figures at 10 000, 100 000 and 1 000 000 cases, side by side.

    python -m bench growth [--sizes 10000,100000,1000000]

Claim and queue-page costs must stay flat as the case count grows; statistics may grow but
must stay within their targets; the worker's memory must not depend on the table sizes.

Each figure's growth exponent b (the figure grows as cases^b: 0 is flat, 1 linear) is
printed over the whole range (first to last size) and over the last decade, and each figure
is projected to 10 000 000 cases with the last decade's exponent (the small sizes carry
fixed costs that hide growth).
"""

from __future__ import annotations

import math

from bench import scale
from bench.plans import Figure

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
PROJECT_TO = 10_000_000


async def run(sizes: tuple[int, ...], checks: int) -> dict[int, list[Figure]]:
    results = {}
    for cases in sizes:
        print(f"\n=== growth: {cases:,} cases ===", flush=True)
        results[cases] = await scale.run(cases, checks=checks)
    return results


def table(results: dict[int, list[Figure]]) -> str:
    """A markdown table: one row per figure, one column per size."""
    sizes = list(results)
    names: list[str] = []
    for figures in results.values():
        names += [f.name for f in figures if f.name not in names]
    header = "| figure | target | " + " | ".join(f"{n:,} cases" for n in sizes)
    header += f" | exponent {_short(sizes[0])}→{_short(sizes[-1])} | last decade"
    header += f" | projected {_short(PROJECT_TO)} |"
    lines = [header, "|---|---|" + "---:|" * (len(sizes) + 3)]
    for name in names:
        found = {n: {f.name: f for f in results[n]}.get(name) for n in sizes}
        sample = next(f for f in found.values() if f is not None)
        cells = [_cell(found[n]) for n in sizes]
        whole, last, projected = _growth(found)
        cells += [_exponent(whole), _exponent(last), _projected(projected, sample)]
        lines.append(f"| {name} | ≤ {sample.target:g} {sample.unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def exponent(n1: int, v1: float, n2: int, v2: float) -> float | None:
    """b in v ∝ n^b between two sizes (None when a value is not positive)."""
    if v1 <= 0 or v2 <= 0 or n1 == n2:
        return None
    return math.log(v2 / v1) / math.log(n2 / n1)


def _growth(found: dict[int, Figure | None]) -> tuple[float | None, float | None, float | None]:
    """Exponent over the whole range, over the last decade, and the 10 M projection."""
    points = [(n, f.value) for n, f in found.items() if f is not None]
    if len(points) < 2:
        return None, None, None
    whole = exponent(*points[0], *points[-1])
    last = exponent(*points[-2], *points[-1])
    n, value = points[-1]
    projected = value * (PROJECT_TO / n) ** last if last is not None else None
    return whole, last, projected


def _exponent(b: float | None) -> str:
    return "–" if b is None else f"{b:+.2f}"


def _projected(value: float | None, sample: Figure) -> str:
    if value is None:
        return "–"
    mark = "" if value <= sample.target else " ✗"
    return f"{value:.2f} {sample.unit}{mark}"


def _short(n: int) -> str:
    return f"{n // 1_000_000} M" if n >= 1_000_000 else f"{n // 1000} k"


def exponents(results: dict[int, list[Figure]]) -> str:
    """One line per figure: its growth exponent over the whole range (the printed contract)."""
    sizes = list(results)
    names: list[str] = []
    for figures in results.values():
        names += [f.name for f in figures if f.name not in names]
    lines = []
    for name in names:
        whole, last, _ = _growth({n: {f.name: f for f in results[n]}.get(name) for n in sizes})
        lines.append(
            f"growth exponent {_exponent(whole)} ({_short(sizes[0])}→{_short(sizes[-1])}; "
            f"last decade {_exponent(last)}): {name}"
        )
    return "\n".join(lines)


def _cell(figure: Figure | None) -> str:
    if figure is None:
        return "–"
    mark = "" if figure.meets else " ✗"
    return f"{figure.value:.2f} {figure.unit}{mark}"
