"""Re-run only the final pick on finished runs, to see what a pick rule changes with the search held fixed.

    python bench/repick.py BENCH_DIR/runs/*/ --per-shape 2
    python bench/repick.py BENCH_DIR/runs/*/ --per-shape 2 --heldout   # also the new pick's test R²
    python bench/repick.py BENCH_DIR/runs/*/ --parsimony on --heldout  # a run made without it
    python bench/repick.py BENCH_DIR/runs/*/ --consensus off --heldout  # no consensus step
    python bench/repick.py BENCH_DIR/runs/*/ --steady on --heldout  # the steadiest plausible law
    python bench/repick.py BENCH_DIR/runs/*/ --windows 0,0.25,0.5 --heldout  # fit windows
    python bench/repick.py BENCH_DIR/runs/*/ --polish 800 --heldout  # polished fits
    python bench/repick.py BENCH_DIR/runs/*/ --narrow 0 --heldout  # every restart to the end
    python bench/repick.py BENCH_DIR/runs/*/ --simpler off --heldout  # no simpler front
    python bench/repick.py BENCH_DIR/runs/*/ --supported on --heldout  # the best-supported law too
    python bench/repick.py BENCH_DIR/runs/*/ --prior on --heldout  # the best generation-0 law too
    python bench/repick.py BENCH_DIR/runs/*/ --frozen on --heldout  # frozen terms charged
    python bench/repick.py BENCH_DIR/runs/*/ --unfreeze on --heldout  # frozen terms fitted
    python bench/repick.py RUN_DIR/ --add "L = E + A/N**a + B/D**b" --heldout  # a law the search missed

For each finished run directory: its stored population and every fully scored law it
dropped go through :func:`sld.evolve.pick.pick_law` with the run's own settings
(``--per-shape`` overrides the cap on laws of one shape; ``--candidates`` the pool
size; ``--windows`` the fit-window shares; ``--polish`` the polish of the pick's fold
fits, which the held-out fit then uses too, so a law chosen again is scored again;
``--narrow`` the narrowing of the pick's fits that compare laws, :class:`sld.fit.Fidelity`
(the held-out fit runs every restart to the end, as a run's does);
``--simpler`` whether the pool takes the simpler front, :func:`sld.evolve.pool.simpler_front`;
``--supported`` whether it takes the best-supported law, :func:`sld.evolve.pool.supported_law`;
``--prior`` whether it takes the best law of generation 0, :func:`sld.evolve.pool.prior_law`;
``--frozen`` whether the pick charges frozen terms as parameters, :attr:`sld.law.Law.frozen_terms`;
``--unfreeze`` whether a law with frozen terms gives way to its variant with their coefficients
fitted, :func:`sld.evolve.unfrozen.unfrozen_pool` (the variants get ids from ``UNFROZEN_IDS``);
``--add LAW``, repeatable, puts a law the search may never have found into the pool beside its
own, to tell a search that missed a law from a pick that would pass it over). The
pick reads training rows only. The run's report already holds the held-out R² of the
law it chose; ``--heldout`` fits a newly chosen law on every training row and
scores it on the test rows, as the report does, for this table only: nothing here feeds
a pick. Nothing is written to the runs.

Printed: one markdown row per run (old and new chosen law, how many shapes the new pool
held, how many of its laws the pick resampled and whether each of their pessimistic
errors equals the one the run stored, the pick's seconds, and with ``--heldout`` both
test R²), then the median per task.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import time
from pathlib import Path

from sld.config import RunConfig
from sld.evolve.pick import PickSettings, pick_law
from sld.report import read_run
from sld.scoring import heldout_score, parse_for_task
from sld.store import RunReader

ADDED_IDS = 10**9  # --add laws' ids: far past any run's candidate ids, so none is shared
# on/off flags, each a PickSettings field of the same name
SWITCHES = {
    "parsimony": "pick the fewest parameters within the leader's error bar (default: the run's)",
    "consensus": "among 3+ plausible laws, the one nearest their median extrapolation "
    "(default: the run's config; off where it predates the option)",
    "steady": "among 2+ plausible laws, the one whose extrapolation moves least as the folds "
    "add rows (default: the run's config; on where it predates the option)",
    "simpler": "the pool takes the simpler front (default: on)",
    "supported": "the pool takes the best-supported law (default: the pick's default)",
    "prior": "the pool takes the best law of generation 0 (default: the pick's default)",
    "frozen": "frozen terms count as parameters in the pick (default: the pick's default)",
    "unfreeze": "a law with frozen terms gives way to its variant with them fitted "
    "(default: the pick's default)",
}


def repick(run: Path, *, heldout: bool, add: tuple[str, ...] = (), **overrides: object) -> dict:
    """The old and the new pick of one finished run (and their test R² when asked).

    ``overrides``: :class:`sld.evolve.pick.PickSettings` fields to change from the run's own
    settings (``per_shape=3``, ``frozen=False``, ...); a None value keeps the run's.
    """
    report = json.loads((run / "report.json").read_text())
    config = RunConfig.model_validate(report["config"])
    task = config.task.load()  # a curated name or your own data, as the run recorded it
    changed = {name: value for name, value in overrides.items() if value is not None}
    settings = dataclasses.replace(PickSettings.from_config(config), **changed)  # type: ignore[arg-type]
    started = time.perf_counter()
    with RunReader.open(run) as reader:
        record = read_run(reader)
        fitted = reader.fitted()
    extra = [(ADDED_IDS + i, parse_for_task(text, task)) for i, text in enumerate(add)]
    new = pick_law(record.population, task, settings, fitted=fitted, extra=extra)
    seconds = time.perf_counter() - started
    laws = {e.id: e.law for e in new.entries}
    stored = {e["id"]: e for e in report["pick"]["ranked"]}
    resampled = [e for e in new.entries if e.bound is not None]
    old_r2 = (report.get("heldout") or {}).get("chosen", {}).get("test_r2")
    old_window = report["pick"].get("window", 0.0)
    same = new.chosen == report["pick"]["chosen"] and new.window == old_window
    same = same and settings.polish == report["pick"]["settings"].get("polish", 0)
    same = same and settings.narrow == report["pick"]["settings"].get("narrow", 0)
    row = {
        "run": run.name,
        "task": task.name,
        "old": report["pick"]["chosen"],
        "new": new.chosen,
        "new_law": laws.get(new.chosen),
        "window": new.window,
        "windows": {f"{w.share:g}": round(w.fitness, 4) for w in new.windows},
        "shapes": len({parse_for_task(e.law, task).shape for e in new.entries}),
        "seconds": seconds,
        "resampled": len(resampled),
        # every law resampled now has the pessimistic error the run stored (None: not comparable)
        "same_bounds": (
            all(e.bound == stored[e.id]["pessimistic_error"] for e in resampled)
            if all(e.id in stored for e in resampled)
            else None
        ),
        "old_r2": old_r2,
        "new_r2": old_r2 if same else None,
    }
    if heldout and row["new_r2"] is None and new.chosen is not None:
        law = parse_for_task(laws[new.chosen], task)
        row["new_r2"] = heldout_score(
            law,
            task.windowed(new.window),
            seed=config.seed,
            restarts=config.final_restarts,
            polish=settings.polish,
        ).r2
    return row


def _r2(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def table(rows: list[dict]) -> str:
    """Per run, then the median per task (the lower middle for an even count, as sld bench)."""
    out = [
        "| run | old id | new id | window | shapes | resampled | same bounds | pick s "
        "| old test R² | new test R² |",
        "|---" * 10 + "|",
    ]
    for r in rows:
        out.append(
            f"| {r['run']} | {r['old']} | {r['new']} | {r['window']:g} | {r['shapes']} "
            f"| {r['resampled']} "
            f"| {r['same_bounds']} | {r['seconds']:.0f} | {_r2(r['old_r2'])} | {_r2(r['new_r2'])} |"
        )
    out += ["", "| task | median old | median new |", "|---|---|---|"]
    for task in sorted({r["task"] for r in rows}):
        old = [r["old_r2"] for r in rows if r["task"] == task and r["old_r2"] is not None]
        new = [r["new_r2"] for r in rows if r["task"] == task and r["new_r2"] is not None]
        cells = [_r2(statistics.median_low(v)) if v else "—" for v in (old, new)]
        out.append(f"| {task} | {cells[0]} | {cells[1]} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished run directories")
    parser.add_argument("--per-shape", type=int, help="laws of one shape in the pool")
    parser.add_argument("--candidates", type=int, help="laws in the pool")
    parser.add_argument("--bootstrap-restarts", type=int, help="restarts of each resample's refit")
    parser.add_argument(
        "--windows", help="fit-window shares, comma-separated (default: the run's config)"
    )
    parser.add_argument(
        "--polish", type=int, help="polish of the pick's and the held-out fits (default: the run's)"
    )
    parser.add_argument(
        "--narrow",
        type=int,
        help="restarts kept after a short run in the pick's fits of large groups "
        "(0: none; default: the run's)",
    )
    for name, help_text in SWITCHES.items():
        parser.add_argument(f"--{name}", choices=["on", "off"], help=help_text)
    parser.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="LAW",
        help="a law to put in the pool beside the run's own (repeatable)",
    )
    parser.add_argument("--heldout", action="store_true", help="score a new pick on test rows")
    args = parser.parse_args(argv)
    rows = []
    for run in args.runs:
        if not (run / "report.json").exists():
            continue
        switches = {
            name: None if getattr(args, name) is None else getattr(args, name) == "on"
            for name in SWITCHES
        }
        windows = None if args.windows is None else tuple(map(float, args.windows.split(",")))
        rows.append(
            repick(
                run,
                heldout=args.heldout,
                add=tuple(args.add),
                per_shape=args.per_shape,
                candidates=args.candidates,
                bootstrap_restarts=args.bootstrap_restarts,
                windows=windows,
                polish=args.polish,
                narrow=args.narrow,
                **switches,
            )
        )
        print(re.sub(r"\s+", " ", json.dumps(rows[-1])), flush=True)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
