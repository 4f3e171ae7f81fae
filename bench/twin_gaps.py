"""How far apart the selection errors of a run's laws lie: the evidence for the fit-twin tolerance.

    python bench/twin_gaps.py BENCH_DIR/runs/*/

Reads every fully scored law of each finished run (training rows only: selection errors
and fold NMSEs from the run store), sorts each run's laws by selection error, and prints

- the histogram of the relative gap between neighbours, one row per decade;
- how many neighbour pairs are fit twins (:func:`sld.evolve.population.twins`), and how
  many of those also agree on every fold's NMSE within ``--fold-tolerance`` (relative).

Two spellings of one law fitted to one optimum agree to the fitter's precision; two
different laws differ by far more. A tolerance belongs in the trough between the two.
Nothing is written to the runs.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

from sld.evolve.engine import member_from_fitted
from sld.evolve.population import twins
from sld.store import RunReader


def _fold_gap(a: Sequence[float | None], b: Sequence[float | None]) -> float:
    """The largest relative difference between two laws' fold NMSEs (inf if a fold is missing)."""
    if len(a) != len(b) or any(x is None or y is None for x, y in zip(a, b, strict=True)):
        return math.inf
    return max((abs(x - y) / max(abs(x), 1e-300) for x, y in zip(a, b, strict=True)), default=0.0)


def gaps(run: Path, *, fold_tolerance: float) -> tuple[Counter[int], int, int, int]:
    """(decade histogram of neighbour gaps, laws, twin pairs, twin pairs equal fold by fold)."""
    with RunReader.open(run) as reader:
        scored = [
            (member, [f.get("nmse") for f in row.report.get("folds") or ()])
            for row in reader.fitted()
            if (member := member_from_fitted(row)) is not None
        ]
    scored.sort(key=lambda item: item[0].error)
    histogram: Counter[int] = Counter()
    pairs = equal = 0
    for (a, folds_a), (b, folds_b) in pairwise(scored):
        gap = abs(b.error - a.error) / max(a.error, 1e-300)
        histogram[-99 if gap == 0 else math.floor(math.log10(gap))] += 1
        if twins(a, b):
            pairs += 1
            equal += _fold_gap(folds_a, folds_b) <= fold_tolerance
    return histogram, len(scored), pairs, equal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished run directories")
    parser.add_argument("--fold-tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)
    total: Counter[int] = Counter()
    laws = pairs = equal = 0
    for run in args.runs:
        histogram, n, p, e = gaps(run, fold_tolerance=args.fold_tolerance)
        total.update(histogram)
        laws, pairs, equal = laws + n, pairs + p, equal + e
    print(f"{laws} fully scored laws in {len(args.runs)} runs")
    print("| relative gap to the next law | neighbour pairs |\n|---|---|")
    for decade in sorted(total):
        label = "0 (equal)" if decade == -99 else f"[1e{decade}, 1e{decade + 1})"
        print(f"| {label} | {total[decade]} |")
    print(
        f"\nfit twins: {pairs} neighbour pairs; {equal} of them equal on every fold "
        f"within {args.fold_tolerance:g}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
