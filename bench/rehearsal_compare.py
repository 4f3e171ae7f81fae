"""Does a rehearsal tell what the real test will? Two benches of the same settings, task by task.

    python bench/rehearsal_compare.py REHEARSAL_BENCH REAL_BENCH

A rehearsal (``sld bench --rehearse``) holds out each task's validation slice and never
loads its test rows, so its scores may steer choices; the real bench's test R² may not.
This reads both benches' ``bench.json`` and prints, per task (the ``-rehearsal`` suffix
dropped), the chosen laws' median test R² and the human law's in each, and the margin
chosen − human, each R² clipped to [-1, 1] as the bench plot clips it. Then, over the
tasks with a human law: how often the rehearsal's margin has the real margin's sign
(does the search beat the human law in both?), and the Spearman correlation of the
chosen medians over every task. No fitting here: both benches are read as they are.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from sld.corpus.task import REHEARSAL_SUFFIX


def _clip(value: float | None) -> float:
    if value is None or not math.isfinite(value):
        return math.nan
    return max(-1.0, min(1.0, value))


def task_rows(bench: Path) -> dict[str, dict[str, Any]]:
    """Task name (rehearsal suffix dropped) -> its row of ``bench.json``."""
    table = json.loads((bench / "bench.json").read_text())
    return {row["task"].removesuffix(REHEARSAL_SUFFIX): row for row in table["tasks"]}


def _text(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.4f}"


def compare(rehearsal: Path, real: Path) -> str:
    """The markdown table and the agreement lines (module docstring)."""
    staged, actual = task_rows(rehearsal), task_rows(real)
    names = [name for name in staged if name in actual]
    lines = [
        "| task | rehearsal: chosen | human | margin | real: chosen | human | margin |",
        "|---|---|---|---|---|---|---|",
    ]
    agree, with_human, pairs = 0, 0, []
    for name in names:
        a, b = staged[name], actual[name]
        ca, ha = _clip(a["test_r2_median"]), _clip(a["human_test_r2"])
        cb, hb = _clip(b["test_r2_median"]), _clip(b["human_test_r2"])
        ma, mb = ca - ha, cb - hb
        lines.append(
            f"| {name} | {_text(ca)} | {_text(ha)} | {_text(ma)} | "
            f"{_text(cb)} | {_text(hb)} | {_text(mb)} |"
        )
        if not (math.isnan(ma) or math.isnan(mb)):
            with_human += 1
            agree += (ma >= 0) == (mb >= 0)
        if not (math.isnan(ca) or math.isnan(cb)):
            pairs.append((ca, cb))
    lines.append("")
    lines.append(
        f"margin signs agree (chosen at or above the human law in both, or below in both): "
        f"{agree} of {with_human} tasks with a human law"
    )
    if len(pairs) >= 3:
        rho = pd.Series([p[0] for p in pairs]).corr(pd.Series([p[1] for p in pairs]), "spearman")
        lines.append(
            f"Spearman correlation of the chosen medians over {len(pairs)} tasks: {rho:.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rehearsal", type=Path, help="a bench made with --rehearse")
    parser.add_argument("real", type=Path, help="the same bench without it")
    args = parser.parse_args()
    print(compare(args.rehearsal, args.real))


if __name__ == "__main__":
    main()
