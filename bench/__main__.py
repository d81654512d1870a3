"""`python -m bench all | ingest | resolve | notify | recheck | scale | growth`.

Every stage prints its own report, then one table: our rate, the raw limit measured in the
same run, their ratio and the target. `all` runs the four stage benchmarks and a 100 000-case
scale run at sizes that finish in a few minutes on 2 cores; `--factor 5` multiplies them.

    python -m bench all [--factor 1.0] [--skip-scale]
    python -m bench scale --cases 1000000 [--checks 2000]
    python -m bench growth [--sizes 10000,100000,1000000]

Benchmarks against the slow, rate-limited internet (their own options; `--help` lists them):

    python -m bench recheck-hostile [--urls 10000]    re-checks among hanging and slow hosts
    python -m bench resolve-burst [--urls 50000]      a cold burst under registry pacing
    python -m bench time-to-notice [--reports 10000]  intake to SMTP acceptance, p50/p95
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable

from bench import growth, recheck_hostile, resolve_burst, scale, stages, time_to_notice
from bench.plans import Figure
from bench.stages import Row, Sizes

STAGES: dict[str, Callable[[Sizes], Row]] = {
    "ingest": stages.ingest,
    "resolve": stages.resolve,
    "notify": stages.notify,
    "recheck": stages.recheck,
}


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["all", *STAGES, "scale", "growth"])
    parser.add_argument("--factor", type=float, default=1.0, help="multiply every default size")
    parser.add_argument("--cases", type=int, help="scale: cases to load (default 100 000)")
    parser.add_argument("--checks", type=int, default=2000, help="scale: due checks for RSS")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="growth: case counts")
    parser.add_argument("--skip-scale", action="store_true", help="all: stages only")
    return parser.parse_args()


def rate_table(rows: list[Row]) -> str:
    lines = [
        "| stage | ours | raw limit (same run) | ratio | target | meets | notes |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for row in rows:
        ours = f"{row.ours:,.0f} {row.unit}" if row.ours is not None else "–"
        raw = f"{row.raw:,.0f} {row.unit}" if row.raw is not None else "–"
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "–"
        meets = {True: "yes", False: "**no**", None: "–"}[row.meets]
        notes = "; ".join(row.notes)
        lines.append(
            f"| {row.stage} | {ours} | {raw} | {ratio} | {row.target} | {meets} | {notes} |"
        )
    return "\n".join(lines)


def figure_table(figures: list[Figure]) -> str:
    lines = ["| figure | measured | target | meets | notes |", "|---|---:|---|---|---|"]
    for f in figures:
        meets = "yes" if f.meets else "**no**"
        lines.append(
            f"| {f.name} | {f.value:.2f} {f.unit} | ≤ {f.target:g} {f.unit} | {meets} | {f.note} |"
        )
    return "\n".join(lines)


# Benchmarks with their own command line: `python -m bench NAME [their options]`.
OWN_OPTIONS: dict[str, Callable[[list[str]], None]] = {
    "recheck-hostile": recheck_hostile.cli,
    "resolve-burst": resolve_burst.cli,
    "time-to-notice": time_to_notice.cli,
}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in OWN_OPTIONS:
        OWN_OPTIONS[sys.argv[1]](sys.argv[2:])
        return
    args = _args()
    sizes = Sizes().scaled(args.factor)
    started = time.perf_counter()
    if args.what == "growth":
        counts = tuple(int(n) for n in args.sizes.split(","))
        results = asyncio.run(growth.run(counts, args.checks))
        print("\n" + growth.table(results) + "\n\n" + growth.exponents(results))
    elif args.what == "scale":
        figures = asyncio.run(scale.run(args.cases or sizes.scale_cases, args.checks))
        print("\n" + figure_table(figures))
    else:
        names = list(STAGES) if args.what == "all" else [args.what]
        rows = [STAGES[name](sizes) for name in names]
        figures = []
        if args.what == "all" and not args.skip_scale:
            figures = asyncio.run(scale.run(args.cases or sizes.scale_cases, args.checks))
        print("\n" + rate_table(rows))
        if figures:
            print(f"\nscale, {args.cases or sizes.scale_cases:,} cases\n" + figure_table(figures))
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
