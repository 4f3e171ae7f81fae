"""How should search rank laws? Sweep the selection rule over pools of real candidates.

For every run directory given (a finished discovery run: its fitted candidates are the
pool), every pool law is scored two ways with sld's own selection path:

* **nested** (training rows only): the task's validation slice plays the test split.
  The law is scored on folds carved from the remaining rows, and its "pseudo-test" R² is
  a fit on those rows scored on the slice. Choosing weights on this criterion uses no
  test label at all.
* **real**: folds from all training rows, and the held-out test R² (reported only, to
  confirm what the nested criterion chose).

Each rule (how many folds, how they are aggregated, weight per node, weight per
parameter, whether failed extrapolation checks demote) then picks one law per pool,
and the rule is scored by the mean over pools of the pick's R² clipped to [-1, 1].

    python bench/selection_sweep.py runs/*/ --laws 60 --out sweep.json
    python bench/selection_sweep.py --table sweep.json          # rules table only
    python bench/selection_sweep.py --grid sweep.json           # weights grid, top 1/3/5
    python bench/selection_sweep.py --probes sweep.json         # how far the checks probe
    python bench/selection_sweep.py --far sweep.json            # how far the directions probe

The grid smooths the one-pick-per-pool criterion: for each rule it also averages the
R² of the rule's top 3 and top 5 laws per pool, so a weight that only reshuffles
near-ties does not look like a win or a loss.

No timing here; the machine's load does not change the numbers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sqlite3
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sld.corpus import Task, load_task
from sld.corpus.task import Split, make_task
from sld.fit import fit_many, predict
from sld.scoring import evaluate, extrapolation_checks, parse_for_task
from sld.scoring._selection import fold_rows, restrict, score_folds

MAX_FOLDS = 4
PROBES = (10.0, 100.0, 1000.0)  # check probe factors recorded per law (``--probes``)
FAR = (1e3, 1e4, 1e5, 1e6)  # how far the declared directions alone are checked (``--far``)


def _with_folds(task: Task, *, train_only: bool) -> Task:
    """The task rebuilt with MAX_FOLDS folds; ``train_only`` makes its validation slice the test."""
    frame = task.frame()
    card = task.card.model_copy(
        update={"validation": task.card.validation.model_copy(update={"folds": MAX_FOLDS})}
    )
    if train_only:
        is_test = frame["validation"].to_numpy(dtype=bool)
    else:
        test = task.heldout_frame().assign(validation=False, _test=True)
        frame = pd.concat([frame.assign(_test=False), test], ignore_index=True)
        is_test = frame["_test"].to_numpy(dtype=bool)
    return make_task(
        card,
        groups=frame["group"].astype(str).to_numpy(),
        X=frame[list(task.inputs)].to_numpy(dtype=np.float64),
        y=frame[list(task.outputs)].to_numpy(dtype=np.float64),
        is_test=is_test,
        log_scale=task.log_scale,
        where=task.name,
    )


def _pool(run_dir: Path, *, laws: int) -> tuple[str, list[str]]:
    """The task name and up to ``laws`` distinct fitted laws of a run, best validation first."""
    con = sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True)
    task = json.loads(con.execute("select value from meta where key='task'").fetchone()[0])
    rows = con.execute(
        "select c.text from candidates c join scores s on s.candidate_id = c.id "
        "where s.error is not null order by s.error, c.id"
    ).fetchall()
    con.close()
    return task, [r[0] for r in rows][:laws]


def _features(task: Task, texts: list[str], *, seed: int) -> list[dict[str, Any]]:
    parsed = []
    for text in texts:
        try:
            parsed.append(parse_for_task(text, task))
        except Exception:  # noqa: BLE001 - a pool law the task no longer accepts is skipped
            continue
    out = []
    for setting, train_only in (("real", False), ("nested", True)):
        variant = _with_folds(task, train_only=train_only)
        folds = variant.folds()
        fold_fits = fit_many(parsed, fold_rows(folds), restarts=8, seed=seed)
        # held-out (or pseudo-test) R²: one batched fit on every training row, as the report does
        fits = fit_many(parsed, variant.train(), restarts=16, seed=seed)
        for i, (law, fold_fit, fit) in enumerate(zip(parsed, fold_fits, fits, strict=True)):
            held, _ = evaluate(law, fit, variant.heldout())
            top = restrict(fold_fit, folds[0])
            checks = None
            if top.ok:
                checks = extrapolation_checks(
                    law,
                    top,
                    variant.train(),
                    log_scale=variant.log_scale,
                    monotone=variant.monotone,
                    probe=variant.card.validation.probe,
                    monotone_probe=variant.card.validation.monotone_probe,
                ).passed
            if setting == "real":
                out.append(
                    {"law": law.text, "nodes": law.complexity, "params": len(law.parameters)}
                )
            out[i][setting] = {
                "folds": [f.nmse for f in score_folds(law, fold_fit, folds)],
                "reach": _reach(law, fold_fit, folds),
                "spread": {f"{p:g}": _spread(law, fold_fit, variant, probe=p) for p in SPREADS},
                "checks": checks,
                "probes": {f"{p:g}": _passes(law, top, variant, probe=p) for p in PROBES},
                "far": {
                    f"{p:g}": _passes(
                        law, top, variant, probe=variant.card.validation.probe, monotone_probe=p
                    )
                    for p in FAR
                },
                "r2": held.r2 if held is not None else None,
            }
    return out


SPREADS = (1.0, 10.0)  # where fold fits are compared: the top band, or its scale × 10


def _reach(law: Any, fit: Any, folds: Any) -> list[float | None]:
    """Per fold k: NMSE of fold k's fit on every band 0..k (all rows above its cutoff)."""
    out: list[float | None] = []
    for k, fold in enumerate(folds):
        part = restrict(fit, fold)
        X, y = [], []
        for g, x_fit in enumerate(fold.fit.X):
            if len(x_fit) == 0:
                X.append(np.zeros((0, len(fold.fit.inputs))))
                y.append(np.zeros((0, len(fold.fit.outputs))))
                continue
            X.append(np.concatenate([f.score.X[g] for f in folds[: k + 1]]))
            y.append(np.concatenate([f.score.y[g] for f in folds[: k + 1]]))
        rows = Split(fold.fit.groups, fold.fit.inputs, fold.fit.outputs, tuple(X), tuple(y))
        metrics, _ = evaluate(law, part, rows)
        out.append(metrics.nmse if metrics is not None else None)
    return out


def _spread(law: Any, fit: Any, task: Task, *, probe: float) -> float | None:
    """How far the fold fits disagree where they extrapolate, in output std (label-free).

    Points: each group's top band (fold 0's score rows), its validation-scale input × ``probe``
    (scale folds; random folds use the band as it is). Per group and output, the RMS over
    points of the std across fold fits, over the std of the group's training outputs; then
    the RMS over groups and outputs. None when fewer than two folds were fitted.
    """
    folds = task.folds()
    train = task.train()
    col = task.inputs.index(task.validation_scale) if task.validation_scale else None
    terms = []
    for g, group in enumerate(task.groups):
        x = np.array(folds[0].score.X[g], dtype=np.float64)
        if len(x) == 0:
            continue
        if col is not None and folds[0].kind == "scale":
            x[:, col] *= probe
        preds = []
        for fold in folds:
            params = restrict(fit, fold).parameters.get(group)
            if params is None:
                continue
            with np.errstate(all="ignore"):
                preds.append(
                    np.asarray(predict(law, params, x), dtype=np.float64).reshape(len(x), -1)
                )
        if len(preds) < 2:
            continue
        stack = np.stack(preds)
        if not np.all(np.isfinite(stack)):
            return math.inf
        std_y = np.std(train.y[g], axis=0)
        std_y = np.where(std_y > 0, std_y, 1.0)
        terms.extend(np.sqrt(np.mean(np.var(stack, axis=0), axis=0)) / std_y)
    if not terms:
        return None
    return float(np.sqrt(np.mean(np.square(terms))))


def _passes(
    law: Any, fit: Any, task: Task, *, probe: float, monotone_probe: float | None = None
) -> bool | None:
    """Whether fold 0's fit passes the extrapolation checks probed ``probe`` × out, the declared
    directions alone ``monotone_probe`` × out (None: no further; see the checks) (None: no fit)."""
    if fit is None or not fit.ok:
        return None
    report = extrapolation_checks(
        law,
        fit,
        task.train(),
        log_scale=task.log_scale,
        monotone=task.monotone,
        probe=probe,
        monotone_probe=monotone_probe,
    )
    return report.passed


def _error(folds: list[float | None], k: int, agg: str) -> float:
    use = folds[:k]
    if not use or any(v is None or not math.isfinite(v) for v in use):
        return math.inf
    logs = [math.log10(max(v, 1e-12)) for v in use]
    return {"mean": float(np.mean(logs)), "max": max(logs), "first": logs[0]}[agg]


def _fitness(c: dict, setting: str, rule: tuple, *, errors: str = "folds") -> float:
    """The rule's fitness of one pool law (inf when a fold has no finite score).

    ``demote``: False, True (the checks at the card's probe), a probe factor's key in
    ``PROBES`` (every check at that probe), or ``("far", key)`` (the checks at the card's probe,
    the declared directions to that ``FAR`` factor). ``errors``: which fold errors ("folds" or
    "reach").
    """
    k, agg, node_w, param_w, demote = rule
    f = _error(c[setting][errors], k, agg)
    if not math.isfinite(f):
        return math.inf
    f += node_w * c["nodes"] + param_w * c["params"]
    if isinstance(demote, tuple):
        passed = c[setting][demote[0]][demote[1]]
    elif isinstance(demote, str):
        passed = c[setting]["probes"][demote]
    else:
        passed = c[setting]["checks"]
    if demote and passed is False:
        f += 3.0
    return f


def _ranked(pool: list[dict], setting: str, rule: tuple) -> list[dict]:
    """The pool's scorable laws, best fitness first (ties keep pool order)."""
    scored = [(_fitness(c, setting, rule), i) for i, c in enumerate(pool)]
    return [pool[i] for f, i in sorted(scored) if math.isfinite(f)]


def _pick(pool: list[dict], setting: str, rule: tuple) -> dict | None:
    ranked = _ranked(pool, setting, rule)
    return ranked[0] if ranked else None


def _clip(r2: float | None) -> float:
    return -1.0 if r2 is None or not math.isfinite(r2) else max(-1.0, min(1.0, r2))


RULES = [
    (k, agg, node_w, param_w, demote)
    for k, agg in [(1, "first")] + [(k, a) for k in (2, 3, 4) for a in ("mean", "max")]
    for node_w, param_w in itertools.product((0.0, 0.005, 0.01, 0.02), (0.0, 0.02, 0.05, 0.1))
    for demote in (False, True)
]


def _top_mean(pool: list[dict], setting: str, rule: tuple, top: int) -> float:
    """Mean clipped R² of the ``top`` laws the rule ranks first in one pool."""
    ranked = _ranked(pool, setting, rule)[:top]
    return float(np.mean([_clip(c[setting]["r2"]) for c in ranked])) if ranked else -1.0


GRID_WEIGHTS = list(itertools.product((0.0, 0.005, 0.01, 0.02), (0.0, 0.01, 0.02, 0.05, 0.1)))
GRID_FOLDS = [(1, "first"), (2, "mean"), (3, "mean"), (3, "max"), (4, "mean")]


def grid(pools: dict[str, list[dict]], *, tops: tuple[int, ...] = (1, 3, 5)) -> str:
    """Per top-k: rows are folds/aggregation, columns node/param weights; each cell the
    nested mean over pools, the real (test) mean in brackets. Extrapolation checks demote."""
    out = [f"{len(pools)} pools: " + ", ".join(pools)]
    for top in tops:
        out += ["", f"top {top}: nested mean (real mean)", ""]
        out.append("| folds | " + " | ".join(f"{n}/{p}" for n, p in GRID_WEIGHTS) + " |")
        out.append("|---" * (1 + len(GRID_WEIGHTS)) + "|")
        for k, agg in GRID_FOLDS:
            cells = []
            for node_w, param_w in GRID_WEIGHTS:
                rule = (k, agg, node_w, param_w, True)
                nested = np.mean([_top_mean(p, "nested", rule, top) for p in pools.values()])
                real = np.mean([_top_mean(p, "real", rule, top) for p in pools.values()])
                cells.append(f"{nested:.3f} ({real:.2f})")
            out.append(f"| {k} {agg} | " + " | ".join(cells) + " |")
    return "\n".join(out)


CURRENT = (3, "mean", 0.005, 0.01)  # the search's fold rule and weights


def _cells(
    pools: dict[str, list[dict]], top_mean: Any, rule: tuple, tops: tuple[int, ...]
) -> list[str]:
    """One table row's cells: per top-k the nested (real) mean over pools, then each pool's
    top 3; ``top_mean(pool, setting, rule, top)`` scores one pool."""
    cells = []
    for top in tops:
        nested = np.mean([top_mean(p, "nested", rule, top) for p in pools.values()])
        real = np.mean([top_mean(p, "real", rule, top) for p in pools.values()])
        cells.append(f"{nested:.3f} ({real:.3f})")
    return cells + [
        f"{top_mean(p, 'nested', rule, 3):.2f} ({top_mean(p, 'real', rule, 3):.2f})"
        for p in pools.values()
    ]


def _demotion_table(
    pools: dict[str, list[dict]], *, column: str, rows: list[tuple[str, Any]], tops: tuple[int, ...]
) -> str:
    """One line per ``(label, demote)`` in ``rows``: the current rule demoting by ``demote``
    (see :func:`_fitness`); nested mean (real mean) of the top laws' clipped R², then each
    pool's top 3."""
    names = list(pools)
    head = f"| {column} | " + " | ".join(f"top {t}" for t in tops) + " | "
    head += " | ".join(n.replace("_scaling_law", "") + " top 3" for n in names) + " |"
    lines = [f"{len(pools)} pools", "", head, "|---" * (1 + len(tops) + len(names)) + "|"]
    for label, demote in rows:
        cells = _cells(pools, _top_mean, (*CURRENT, demote), tops)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def probes(pools: dict[str, list[dict]], *, tops: tuple[int, ...] = (1, 3, 5)) -> str:
    """Per probe factor: the current rule, demoting laws that fail the checks at that probe;
    nested mean (real mean) of the top 1, 3 and 5 laws' clipped R², then each pool's top 3."""
    rows = [(f"{p:g}", f"{p:g}") for p in PROBES]
    return _demotion_table(pools, column="probe", rows=rows, tops=tops)


def far(pools: dict[str, list[dict]], *, tops: tuple[int, ...] = (1, 3, 5)) -> str:
    """Per ``FAR`` factor: the current rule, demoting laws that fail the checks at the card's
    probe or a declared direction out to that factor; as :func:`probes`."""
    rows = [(f"{p:g}", ("far", f"{p:g}")) for p in FAR]
    return _demotion_table(pools, column="directions to", rows=rows, tops=tops)


STABILITY_WEIGHTS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


def _stable_fitness(c: dict, setting: str, rule: tuple) -> float:
    """The current rule's fitness with a fold-spread term (``stability`` rules).

    ``rule`` = (errors, spread probe key, weight): ``errors`` is "folds" (each fold scored on
    its next band, the search's rule) or "reach" (each fold scored on every band above its
    cutoff); fitness += weight × log10(1 + spread) (a law with one fold has spread 0).
    """
    errors, probe, weight = rule
    f = _fitness(c, setting, (*CURRENT, True), errors=errors)
    if not math.isfinite(f):
        return math.inf
    spread = c[setting]["spread"][probe]
    if weight and spread is not None:
        f += weight * (math.log10(1.0 + spread) if math.isfinite(spread) else 3.0)
    return f


def _stable_top(pool: list[dict], setting: str, rule: tuple, top: int) -> float:
    scored = [(_stable_fitness(c, setting, rule), i) for i, c in enumerate(pool)]
    ranked = [pool[i] for f, i in sorted(scored) if math.isfinite(f)][:top]
    return float(np.mean([_clip(c[setting]["r2"]) for c in ranked])) if ranked else -1.0


def stability(pools: dict[str, list[dict]], *, tops: tuple[int, ...] = (1, 3, 5)) -> str:
    """Fold errors (next band or every band above) × spread weight: nested mean (real mean)
    of the top 1, 3, 5 laws' clipped R², then each pool's top-3 nested (real)."""
    names = list(pools)
    head = "| errors | spread at | weight | " + " | ".join(f"top {t}" for t in tops) + " | "
    head += " | ".join(n.replace("_scaling_law", "") + " top 3" for n in names) + " |"
    lines = [f"{len(pools)} pools", "", head, "|---" * (3 + len(tops) + len(names)) + "|"]
    for errors in ("folds", "reach"):
        for probe in SPREADS:
            for weight in STABILITY_WEIGHTS:
                if weight == 0 and probe != SPREADS[0]:
                    continue
                cells = _cells(pools, _stable_top, (errors, f"{probe:g}", weight), tops)
                lines.append(f"| {errors} | {probe:g} | {weight:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table(pools: dict[str, list[dict]], *, top: int = 12) -> str:
    """The rules, best first by the nested criterion, with the real test R² beside it."""
    rows = []
    for rule in RULES:
        nested = [
            _clip((_pick(p, "nested", rule) or {}).get("nested", {}).get("r2"))
            for p in pools.values()
        ]
        real = [
            _clip((_pick(p, "real", rule) or {}).get("real", {}).get("r2")) for p in pools.values()
        ]
        rows.append((float(np.mean(nested)), float(np.mean(real)), rule, nested, real))
    rows.sort(key=lambda r: (-r[0], -r[1]))
    names = list(pools)
    head = "| folds | agg | w/node | w/param | demote | nested mean | real mean | " + " | ".join(
        n.replace("_scaling_law", "") for n in names
    )
    lines = [head + " |", "|" + "---|" * (7 + len(names))]
    baseline = (1, "first", 0.01, 0.0, False)
    chosen = [r for r in rows[:top]] + [r for r in rows if r[2] == baseline]
    for mean_n, mean_r, rule, nested, real in chosen:
        k, agg, nw, pw, dm = rule
        cells = " | ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(nested, real, strict=True))
        tag = " (old rule)" if rule == baseline else ""
        lines.append(
            f"| {k} | {agg}{tag} | {nw} | {pw} | {dm} | {mean_n:.3f} | {mean_r:.3f} | {cells} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path, help="finished run directories (the pools)")
    parser.add_argument("--laws", type=int, default=60, help="pool laws per run (best first)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("sweep.json"))
    parser.add_argument("--table", type=Path, help="print the rules table of a saved sweep")
    parser.add_argument("--grid", type=Path, help="print the weights grid of a saved sweep")
    parser.add_argument("--probes", type=Path, help="print the probe table of a saved sweep")
    parser.add_argument("--stability", type=Path, help="print the fold-spread table of a sweep")
    parser.add_argument("--far", type=Path, help="print the far-directions table of a sweep")
    args = parser.parse_args(argv)
    if args.far:
        print(far(json.loads(args.far.read_text())))
        return 0
    if args.stability:
        print(stability(json.loads(args.stability.read_text())))
        return 0
    if args.probes:
        print(probes(json.loads(args.probes.read_text())))
        return 0
    if args.grid:
        print(grid(json.loads(args.grid.read_text())))
        return 0
    if args.table:
        pools = json.loads(args.table.read_text())
        print(table(pools))
        return 0
    pools: dict[str, list[dict]] = {}
    if args.out.exists():
        pools = json.loads(args.out.read_text())
    for run_dir in args.runs:
        label = run_dir.name
        if label in pools:
            continue
        name, texts = _pool(run_dir, laws=args.laws)
        print(f"{label}: {len(texts)} laws", file=sys.stderr, flush=True)
        pools[label] = _features(load_task(name), texts, seed=args.seed)
        args.out.write_text(json.dumps(pools))
    print(table(pools))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
