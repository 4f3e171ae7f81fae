"""Which step of the final pick should choose? Judged without a test label: the validation slice plays the test.

For every finished run given, its pool is the laws its final pick ranked (``report.json``).
The run's task is *nested* (its rehearsal, :func:`sld.corpus.task.rehearsal`): its validation slice becomes
the test split and the selection folds are carved from the training rows below it. The
final pick runs on the nested task with the run's own settings (its fit windows
included), without step 6, and every pool law is then fitted on the nested
task's training rows (in the window that pick kept) and scored on the slice: its
*pseudo-test R²*. Each rule is a law of that one pick:

* ``leader``: the lowest penalised pessimistic error (step 4 of
  :func:`sld.scoring.final_pick`);
* ``fewest``: the fewest parameters among the plausible laws (step 5, the default pick);
* ``consensus``: with three or more plausible laws, the one nearest their median
  extrapolation (step 6, :func:`sld.scoring._consensus.consensus_distances`, at the
  card's probe); otherwise step 5's law;
* ``steady``: among the plausible laws (two or more), the one whose extrapolation moves
  least as the folds add rows (step 6, :func:`sld.scoring._steady.extrapolation_drift`,
  at the card's probe); otherwise step 5's law;
* ``relative``: as ``steady``, by the relative drift (drift over drift plus the law's
  own move past the rows: :func:`sld.scoring._steady.extrapolation_drift`, ``relative``);
* ``best``: the pool's highest pseudo-test R² (a ceiling, not a rule).

A run's cell is its rule's pseudo-test R², clipped to [-1, 1]; the table gives the mean
over runs and the median per task (the lower middle, as ``sld bench``). The pool was
ranked by a search that saw the slice among its training rows, so this measures the
pick's steps on a fixed pool, not a search. Runs of a rehearsal (``sld bench --rehearse``)
never saw their test rows, which are their task's validation slice: ``--as-run`` scores
their pools on those, with no second nesting, which removes that bias.

    python bench/nested_pick.py RUNS/*/ --out nested.jsonl   # appends; a run already there is skipped
    python bench/nested_pick.py --table nested.jsonl
    python bench/nested_pick.py REHEARSAL/runs/*/ --as-run --out rehearsed.jsonl

No test row is read. No timing here; the machine's load does not change the numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from sld.config import RunConfig
from sld.corpus.task import REHEARSAL_SUFFIX, rehearsal
from sld.errors import SldError
from sld.evolve.pick import PickSettings, pick_among
from sld.fit import fit_many
from sld.scoring import evaluate, parse_for_task
from sld.scoring._plausible import choose_among, plausible_laws

RULES = ("leader", "fewest", "consensus", "steady", "relative", "best")


def measure(run: Path, *, as_run: bool = False) -> dict[str, Any]:
    """One run's pool on its nested task: each law's pick scores and pseudo-test R², and
    the law each rule chooses (module docstring). ``as_run``: on the run's own task, which
    must be a rehearsal (its test rows are its task's validation slice), else SldError."""
    report = json.loads((run / "report.json").read_text())
    config = RunConfig.model_validate(report["config"])
    if as_run and not config.task.rehearse:
        raise SldError("--as-run reads a run's own test rows: give only runs of sld ... --rehearse")
    task = config.task.load() if as_run else rehearsal(config.task.load())
    settings = PickSettings.from_config(config)
    ranked = report["pick"]["ranked"]
    pool = [(e["id"], parse_for_task(e["law"], task)) for e in ranked]
    steps_0_to_5 = dataclasses.replace(settings, parsimony=True, consensus=False, steady=False)
    pick = pick_among(pool, task, steps_0_to_5)
    windowed = task.windowed(pick.window)
    entries = pick.entries
    index = {cid: k for k, (cid, _) in enumerate(pool)}
    # final_pick's order before step 5 moves its pick to the front: resampled laws first
    order = sorted(
        range(len(entries)),
        key=lambda i: (entries[i].bound is None, entries[i].fitness, index[entries[i].id]),
    )
    plausible = plausible_laws(entries, order)
    laws = {cid: law for cid, law in pool}
    fits = fit_many(
        [law for _, law in pool],
        windowed.window_train(),
        restarts=settings.restarts,
        seed=settings.seed,
    )
    r2 = {}
    for (cid, law), fit in zip(pool, fits, strict=True):
        held, _ = evaluate(law, fit, windowed.heldout())
        r2[cid] = held.r2 if held is not None and math.isfinite(held.r2) else None
    chosen = {"leader": entries[order[0]].id, "fewest": pick.chosen}
    # step 6's order: step 5's sort by parameter count, stable
    ids = [entries[i].id for i in sorted(plausible, key=lambda i: entries[i].n_params)]
    measured: dict[str, list[float]] = {}
    for rule in ("consensus", "steady", "relative"):
        step6 = choose_among(
            [laws[c] for c in ids],
            windowed,
            consensus=rule == "consensus",
            steady=rule in ("steady", "relative"),
            relative=rule == "relative",
            seed=settings.seed,
            restarts=settings.restarts,
        )
        chosen[rule] = ids[step6.index]
        measured[rule] = step6.values
    best = max((c for c in r2 if r2[c] is not None), key=lambda c: r2[c], default=None)
    chosen["best"] = best
    return {
        "run": run.name,
        "task": config.task.load().name,
        "window": pick.window,
        "plausible": [entries[i].id for i in plausible],
        "distances": measured.get("consensus", []),
        "drifts": measured.get("steady", []),
        "relative_drifts": measured.get("relative", []),
        "r2": {str(c): v for c, v in r2.items()},
        "n_params": {str(c): len(law.parameters) for c, law in pool},
        "chosen": chosen,
    }


def _clip(r2: float | None) -> float:
    return -1.0 if r2 is None else max(-1.0, min(1.0, r2))


def rule_r2(row: dict[str, Any], rule: str) -> float:
    cid = row["chosen"][rule]
    return _clip(None if cid is None else row["r2"].get(str(cid)))


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| rule | mean, "
        + f"{len(rows)} pools | "
        + " | ".join(_short(t) for t in _tasks(rows))
        + " |",
        "|---" * (2 + len(_tasks(rows))) + "|",
    ]
    for rule in RULES:
        cells = []
        for task in _tasks(rows):
            values = [rule_r2(r, rule) for r in rows if r["task"] == task]
            cells.append(f"{statistics.median_low(values):.4f}")
        mean = statistics.fmean(rule_r2(r, rule) for r in rows)
        lines.append(f"| {rule} | {mean:.4f} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| run | plausible | " + " | ".join(RULES) + " |",
        "|---" * (2 + len(RULES)) + "|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {len(r['plausible'])} | "
            + " | ".join(f"{rule_r2(r, rule):.4f}" for rule in RULES)
            + " |"
        )
    return "\n".join(lines)


def _tasks(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({r["task"] for r in rows})


def _short(task: str) -> str:
    return task.removesuffix(REHEARSAL_SUFFIX).removesuffix("_scaling_law")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, help="append one JSON line per run here")
    parser.add_argument("--table", type=Path, help="print the table of a scores file")
    parser.add_argument(
        "--as-run",
        action="store_true",
        help="rehearsal runs only (sld bench --rehearse): score on the run's own test rows, "
        "its task's validation slice, instead of nesting once more",
    )
    args = parser.parse_args(argv)
    if args.table:
        rows = [json.loads(line) for line in args.table.read_text().splitlines() if line]
        print(table(rows))
        return 0
    done = set()
    if args.out and args.out.exists():
        done = {json.loads(line)["run"] for line in args.out.read_text().splitlines() if line}
    rows = []
    for run in args.runs:
        if not (run / "report.json").exists() or run.name in done:
            continue
        try:
            row = measure(run, as_run=args.as_run)
        except SldError as exc:  # a nested split that leaves a group without fit rows
            print(f"{run.name}: skipped: {exc}", file=sys.stderr, flush=True)
            continue
        rows.append(row)
        print(f"{run.name}: {json.dumps(row['chosen'])}", file=sys.stderr, flush=True)
        if args.out:
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
    if rows:
        print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
