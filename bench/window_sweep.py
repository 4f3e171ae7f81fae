"""Which fit windows should the final pick choose among? Swept over real pools, training rows only.

A fit window leaves the lowest share of each group's fit rows by scale out of every fit
(:mod:`sld.corpus.window`); the final pick tries a set of shares and keeps the one whose
best law has the lowest penalised point error on the folds (:func:`sld.scoring.final_pick`,
step 0). This sweep chooses that set. For every finished run given, its pool is the laws
its final pick ranked (``report.json``), and every pool law is scored at every share two ways:

* **nested** (training rows only, the criterion used to choose): the task's validation
  slice plays the test split, the folds are carved from the rows below it, and a law's
  pseudo-test R² is a fit on those rows (in the window) scored on the slice;
* **real** (with ``--real``; reported only): folds from every training row, and the
  held-out test R² of a fit on the training rows in the window.

A rule is a set of shares. Per pool it chooses the share whose best law (lowest penalised
point fitness, the pick's weights) is lowest, ties to the smaller share, and scores that
law's R² clipped to [-1, 1] at that share; the cell is the mean over pools.

    python bench/window_sweep.py RUNS/*/ --out windows.json
    python bench/window_sweep.py --table windows.json

No timing here; the machine's load does not change the numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from sld.config import RunConfig
from sld.corpus import Task
from sld.corpus.task import rehearsal
from sld.errors import SldError
from sld.fit import fit_many
from sld.scoring import evaluate, fitness, parse_for_task, selection_scores

SHARES = (0.0, 0.25, 0.5, 0.75)
RULES = (
    (0.0,),
    (0.0, 0.25),
    (0.0, 0.5),
    (0.0, 0.25, 0.5),
    (0.0, 0.25, 0.5, 0.75),
    (0.25,),
    (0.5,),
)
NODE_WEIGHT, PARAM_WEIGHT = 0.01, 0.02  # the final pick's (sld.evolve.pick.PickSettings)


def share_scores(task: Task, texts: list[str], *, seed: int, restarts: int) -> dict[str, Any]:
    """Per share: each law's penalised point fitness on the folds and its (pseudo-)test R²."""
    laws = [parse_for_task(t, task) for t in texts]
    out: dict[str, Any] = {}
    for share in SHARES:
        windowed = task.windowed(share)
        reports = selection_scores(laws, windowed, seed=seed, restarts=restarts)
        fits = fit_many(laws, windowed.window_train(), restarts=restarts, seed=seed)
        rows = []
        for law, report, fit in zip(laws, reports, fits, strict=True):
            held, _ = evaluate(law, fit, windowed.heldout())
            rows.append(
                {
                    "fitness": fitness(
                        report.error,
                        complexity=law.complexity,
                        n_params=len(law.parameters),
                        node_weight=NODE_WEIGHT,
                        param_weight=PARAM_WEIGHT,
                        demoted=report.checks is not None and not report.checks.passed,
                    ),
                    "r2": held.r2 if held is not None else None,
                }
            )
        out[f"{share:g}"] = rows
        if task.validation_scale is None:  # no scale to window along: one share
            break
    return out


def measure(run: Path, *, restarts: int, real: bool) -> dict[str, Any]:
    report = json.loads((run / "report.json").read_text())
    config = RunConfig.model_validate(report["config"])
    task = config.task.load()
    texts = [e["law"] for e in report["pick"]["ranked"]]
    return {
        "run": run.name,
        "task": task.name,
        "laws": texts,
        "real": share_scores(task, texts, seed=config.seed, restarts=restarts) if real else None,
        "nested": share_scores(rehearsal(task), texts, seed=config.seed, restarts=restarts),
    }


def _clip(r2: float | None) -> float:
    return -1.0 if r2 is None or not math.isfinite(r2) else max(-1.0, min(1.0, r2))


def choose(scores: dict[str, Any], rule: tuple[float, ...]) -> tuple[float, float]:
    """(share, clipped R² of the best law there) that ``rule`` chooses for one pool."""
    options = []
    for share in rule:
        rows = scores.get(f"{share:g}")
        if rows is None:  # the task has no scale to window along: share 0 stands for all
            rows, share = scores["0"], 0.0
        best = min(range(len(rows)), key=lambda i: (rows[i]["fitness"], i))
        options.append((rows[best]["fitness"], share, _clip(rows[best]["r2"])))
    fit, share, r2 = min(options, key=lambda o: (o[0], o[1]))
    return share, r2


def table(pools: list[dict[str, Any]]) -> str:
    lines = [
        "| shares | nested mean | real mean (reported only) | shares chosen (nested) |",
        "|---|---|---|---|",
    ]
    for rule in RULES:
        nested_r2 = [choose(p["nested"], rule) for p in pools]
        real_r2 = [choose(p["real"], rule) for p in pools if p["real"]]
        chosen = ", ".join(f"{s:g}" for s, _ in nested_r2)
        real = f"{statistics.fmean(r for _, r in real_r2):.3f}" if real_r2 else "—"
        lines.append(
            f"| {', '.join(f'{s:g}' for s in rule)} | "
            f"{statistics.fmean(r for _, r in nested_r2):.3f} | {real} | {chosen} |"
        )
    lines += ["", "| run | nested R² per rule | real R² per rule |", "|---|---|---|"]
    for p in pools:
        n = " / ".join(f"{choose(p['nested'], r)[1]:.3f}" for r in RULES)
        r = " / ".join(f"{choose(p['real'], r)[1]:.3f}" for r in RULES) if p["real"] else "—"
        lines.append(f"| {p['run']} | {n} | {r} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, help="write the scores here (JSON)")
    parser.add_argument("--table", type=Path, help="print the table of a scores file")
    parser.add_argument("--restarts", type=int, default=16)
    parser.add_argument("--real", action="store_true", help="also score on the test rows")
    args = parser.parse_args(argv)
    if args.table:
        print(table(json.loads(args.table.read_text())))
        return 0
    pools = []
    for run in args.runs:
        try:
            pools.append(measure(run, restarts=args.restarts, real=args.real))
        except SldError as exc:  # a task whose nested split leaves a group without fit rows
            print(f"{run.name}: skipped: {exc}", file=sys.stderr, flush=True)
            continue
        print(f"{run.name}: done", file=sys.stderr, flush=True)
        if args.out:
            args.out.write_text(json.dumps(pools))
    print(table(pools))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
