"""Growth: the scale figures at 10 000, 100 000 and 1 000 000 cases, side by side.

    python -m bench growth [--sizes 10000,100000,1000000]

Claim and queue-page costs must stay flat as the case count grows; statistics may grow but
must stay within their targets; the worker's memory must not depend on the table sizes.
"""

from __future__ import annotations

from bench import scale
from bench.plans import Figure

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


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
    header = "| figure | target | " + " | ".join(f"{n:,} cases" for n in sizes) + " |"
    lines = [header, "|---|---|" + "---:|" * len(sizes)]
    for name in names:
        found = {n: {f.name: f for f in results[n]}.get(name) for n in sizes}
        sample = next(f for f in found.values() if f is not None)
        cells = [_cell(found[n]) for n in sizes]
        lines.append(f"| {name} | ≤ {sample.target:g} {sample.unit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(figure: Figure | None) -> str:
    if figure is None:
        return "–"
    mark = "" if figure.meets else " ✗"
    return f"{figure.value:.2f} {figure.unit}{mark}"
