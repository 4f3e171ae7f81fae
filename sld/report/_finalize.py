"""The steps after the search: the final pick (training rows only), held-out scores of the
picked law, the human law and the start laws, and the report files, each written whole or not
at all.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sld.corpus import Task
from sld.evolve.pick import PICK_STATE, PickSettings, pick_law
from sld.evolve.start import NAME as START
from sld.evolve.unfrozen import store_variant
from sld.plots import write_extrapolation
from sld.report._content import HELDOUT_SECONDS, PICK_SECONDS, build_report
from sld.report._markdown import render_markdown
from sld.report._record import read_run
from sld.scoring import INTERVAL_RESTARTS, ScoreReport, heldout_score, parse_for_task
from sld.store import RunStore
from sld.strict_json import dumps

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
PLOT_PNG = "extrapolation.png"


def finalize(
    store: RunStore,
    task: Task,
    *,
    seed: int,
    restarts: int,
    bootstrap: int,
    bootstrap_restarts: int = INTERVAL_RESTARTS,
    out_dir: Path | None = None,
    pick: PickSettings | None = None,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the final pick (training rows only), then score the picked law, the human law and
    every fitted start law on held-out rows, and write the report files once.

    ``pick`` None skips the final pick: the population's best is the chosen law.
    ``on_step`` is called with a one-line description as each of those parts begins.
    Returns the report (what ``report.json`` holds, with ``plot`` when drawn).
    """
    step = on_step or (lambda _text: None)
    record = read_run(store)
    if pick is not None and record.population is not None:
        step(
            f"final pick: the best {pick.candidates} laws re-fitted on every fold "
            f"({pick.restarts} restarts) and {pick.bootstrap} resamples each, training rows only"
        )
        started = time.perf_counter()
        register = functools.partial(
            store_variant, store, restarts=pick.restarts, polish=pick.polish, narrow=pick.narrow
        )
        picked = pick_law(record.population, task, pick, fitted=store.fitted(), register=register)
        store.set_state(PICK_STATE, picked.model_dump(mode="json"))
        store.set_state(PICK_SECONDS, time.perf_counter() - started)
        record = read_run(store)
    chosen = record.chosen
    texts = {"chosen": chosen.text if chosen else None, "human": task.reference_law}
    named = [f"the {kind} law" for kind, text in texts.items() if text]
    # start laws that were fitted (a duplicate or a failed fit has nothing to score)
    starts = [c for c in record.starts if c.id in record.scored and record.scored[c.id].ok]
    if starts:
        named.append(f"{len(starts)} start law{'s' if len(starts) > 1 else ''}")
    if named:
        step(
            f"held-out scores: {' and '.join(named)}"
            f"{f', {bootstrap} resamples each' if bootstrap > 0 else ''}"
        )

    started = time.perf_counter()
    # the chosen law is fitted as the pick's delivered checks fitted it: in the pick's fit
    # window, with its polish, every restart run to the end (the pick's narrowing, if any,
    # is for comparing laws, not for the fit handed on); the human law and the start laws on
    # every training row, as their authors fitted them
    as_picked = record.pick
    window = as_picked.window if as_picked is not None else 0.0

    def score(text: str, *, chosen: bool = False) -> ScoreReport:
        return heldout_score(
            parse_for_task(text, task),
            task.windowed(window if chosen else 0.0),
            seed=seed,
            restarts=restarts,
            bootstrap=bootstrap,
            bootstrap_restarts=bootstrap_restarts,
            polish=as_picked.polish if chosen and as_picked is not None else 0,
        )

    reports = {kind: score(text, chosen=kind == "chosen") for kind, text in texts.items() if text}
    start_reports = {
        c.id: reports["chosen"] if chosen is not None and c.id == chosen.id else score(c.text)
        for c in starts
    }
    rows = [
        (kind, chosen.id if kind == "chosen" and chosen else None, r) for kind, r in reports.items()
    ]
    rows += [(START, candidate_id, r) for candidate_id, r in start_reports.items()]
    for kind, candidate_id, scored in rows:
        store.record_heldout(
            kind=kind,
            text=scored.law,
            r2=scored.metrics.r2 if scored.metrics else float("nan"),
            report=scored.model_dump(mode="json"),
            candidate_id=candidate_id,
        )
    store.set_state(HELDOUT_SECONDS, time.perf_counter() - started)
    report = build_report(read_run(store), task, heldout=reports, start_heldout=start_reports)
    out = Path(out_dir) if out_dir is not None else store.path.parent
    step("writing the report and the plot")
    if reports:
        write_extrapolation(task, reports, out / PLOT_PNG)
        report["plot"] = str(out / PLOT_PNG)
    write_report(report, out)
    return report


def write_report(report: Mapping[str, Any], out_dir: Path) -> None:
    """``report.json`` (strict JSON: non-finite numbers are null, listed under ``non_finite``)
    and then ``report.md`` in ``out_dir``, each whole or not at all.

    A killed process leaves no half-written file, so ``report.md`` present means
    the report is complete (``sld bench`` relies on it to skip a finished run).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(out_dir / REPORT_JSON, dumps(report) + "\n")
    write_atomically(out_dir / REPORT_MD, render_markdown(report))


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (all or nothing)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)
