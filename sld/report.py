"""The final report of a discovery run: chosen law, Pareto front, held-out scores, plot.

This is the only place a run's held-out (test) rows are used, and only after
selection is over: the chosen law is the population's best by *validation*
error (penalised by complexity), read from the store. Held-out scores are
written to the store's ``heldout`` table, which no engine path reads.

A report is built from one read of the run (:func:`read_run`: one store
snapshot, the population restored once, and the stored score rows of the laws it
shows); :func:`finalize` writes ``report.json`` (strict JSON), ``report.md`` and the
plot once each. Each law shown with its notes carries where its fold fits miss (the
residual diagnostics in words, :func:`sld.scoring.diagnostics_words`) and, for a law an
LLM proposed, the one-line hypothesis it came with.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sld.corpus import Task
from sld.evolve.engine import LIVE_POPULATION, member_from_fitted
from sld.evolve.offline import NAME as OFFLINE
from sld.evolve.pick import PICK_STATE, PickSettings, pick_law
from sld.evolve.population import Member, Population
from sld.plots import write_extrapolation
from sld.scoring import (
    PickReport,
    ResidualDiagnostics,
    ScoreReport,
    diagnostics_headline,
    diagnostics_words,
    heldout_score,
    parse_for_task,
)
from sld.store import FittedRow, RunReader, RunSnapshot, RunStore
from sld.strict_json import dumps

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
PLOT_PNG = "extrapolation.png"
RUNNERS_UP = 3  # how many of the final pick's other laws report.md describes


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A run as one read of its store sees it; the population restored from its checkpoint once.

    ``chosen`` is the final pick's law when the run has one (:mod:`sld.evolve.pick`), else
    the population's best by penalised selection error (no test data involved either
    way); ``front`` the Pareto front over (selection error, complexity); ``scored`` the
    stored fit and validation score of the chosen law and of every law the final pick ranked,
    by candidate id.
    """

    snapshot: RunSnapshot
    population: Population | None
    scored: Mapping[int, FittedRow] = dataclasses.field(default_factory=dict)

    @property
    def pick(self) -> PickReport | None:
        stored = self.snapshot.state.get(PICK_STATE)
        return PickReport.model_validate(stored) if stored else None

    @property
    def chosen(self) -> Member | None:
        if self.population is None:
            return None
        pick = self.pick
        if pick is not None and pick.chosen is not None:
            for member in self.population.members():
                if member.id == pick.chosen:
                    return member
            # the pick may choose a law the population no longer holds (see pick_pool)
            row = self.scored.get(pick.chosen)
            recovered = member_from_fitted(row) if row is not None else None
            if recovered is not None:
                return recovered
        return self.population.best()

    @property
    def front(self) -> list[Member]:
        return self.population.pareto_front() if self.population is not None else []

    def to_frame(self) -> pd.DataFrame:
        """The population, best first: one row per member (its fields: ``id``, ``text``,
        ``complexity``, ``n_params``, ``error`` = selection error, ``r2`` = validation R²,
        ``island``, ...), plus ``on_front`` (on the Pareto front) and ``chosen`` (the pick)."""
        members = self.population.members() if self.population is not None else []
        front = {m.id for m in self.front}
        chosen = self.chosen.id if self.chosen is not None else None
        rows = [
            {**dataclasses.asdict(m), "on_front": m.id in front, "chosen": m.id == chosen}
            for m in members
        ]
        columns = [f.name for f in dataclasses.fields(Member)] + ["on_front", "chosen"]
        return pd.DataFrame(rows, columns=columns)


def read_run(source: RunReader | str | Path, *, rows: bool = False) -> RunRecord:
    """One consistent read of a run, from an open reader or a run directory (opened read-only
    and closed again); ``rows`` adds every candidate and fit, for viewers."""
    if not isinstance(source, RunReader):
        with RunReader.open(source) as reader:
            return read_run(reader, rows=rows)
    snapshot = source.snapshot(rows=rows)
    stored = snapshot.state.get(LIVE_POPULATION) or snapshot.state.get("population")
    record = RunRecord(snapshot, Population.restore(stored) if stored is not None else None)
    pick = record.pick
    shown = [e.id for e in pick.entries] if pick is not None else []
    if pick is not None and pick.chosen is not None:
        shown.append(pick.chosen)
    if record.chosen is not None:
        shown.append(record.chosen.id)
    # a score is written once, so this second read agrees with the snapshot
    return dataclasses.replace(record, scored=source.scored(shown))


def _aliases(task: Task | None) -> dict[str, str]:
    """Input name -> the alias to print (the task card's aliases map alias -> input name)."""
    return {name: alias for alias, name in task.aliases.items()} if task is not None else {}


def law_notes(row: FittedRow | None, *, aliases: Mapping[str, str]) -> dict[str, Any]:
    """What a stored law's validation score says beyond its numbers: ``hypothesis``, the line
    an LLM proposed it with (None for an offline law or none given), ``residuals``, a line on
    the size and sign of its fold-band residuals, and ``diagnostics``, where it misses, in
    words (both None/empty when the score holds no diagnostics)."""
    if row is None:
        return {"hypothesis": None, "residuals": None, "diagnostics": []}
    stored = row.report.get("diagnostics")
    diagnostics = ResidualDiagnostics.model_validate(stored) if stored else None
    candidate = row.candidate
    return {
        "hypothesis": (candidate.rationale or None) if candidate.proposer != OFFLINE else None,
        "residuals": diagnostics_headline(diagnostics) if diagnostics else None,
        "diagnostics": diagnostics_words(diagnostics, names=aliases) if diagnostics else [],
    }


def _candidate_entry(m: Member) -> dict[str, Any]:
    return {
        "id": m.id,
        "text": m.text,
        "complexity": m.complexity,
        "n_params": m.n_params,
        "validation_r2": m.r2,
        "selection_error": m.error,
        "demoted": m.demoted,
        "proposer": m.proposer,
    }


def _pick_entry(
    pick: PickReport | None, notes: Mapping[int, Mapping[str, Any]]
) -> dict[str, Any] | None:
    """Why the winner won: every law the final pick re-fitted, ranked, with fold scores, checks
    and its notes (:func:`law_notes`)."""
    if pick is None:
        return None
    return {
        "chosen": pick.chosen,
        "reason": pick.reason,
        "settings": {
            "restarts": pick.restarts,
            "bootstrap": pick.bootstrap,
            "quantile": pick.quantile,
            "node_weight": pick.node_weight,
            "param_weight": pick.param_weight,
        },
        "ranked": [
            {
                "rank": e.rank,
                "id": e.id,
                "law": e.law,
                "complexity": e.complexity,
                "n_params": e.n_params,
                "fold_nmse": [f.nmse for f in e.folds],
                "selection_error": e.error,
                "pessimistic_error": e.bound,
                "failed_resamples": e.failed,
                "checks_passed": e.checks.passed if e.checks is not None else None,
                "check_reasons": e.checks.reasons if e.checks is not None else [],
                "fitness": e.fitness,
                **notes.get(e.id, law_notes(None, aliases={})),
            }
            for e in pick.entries
        ],
    }


def chosen_candidate(reader: RunReader) -> dict[str, Any] | None:
    """The selected law of the run in ``reader`` (see :class:`RunRecord`), or None before any score."""
    best = read_run(reader).chosen
    return _candidate_entry(best) if best is not None else None


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _heldout_entry(report: ScoreReport) -> dict[str, Any]:
    m, b = report.metrics, report.bootstrap
    return {
        "law": report.law,
        "ok": report.ok,
        "reason": report.reason,
        "test_r2": _finite(m.r2) if m else None,
        "test_r2_clipped": _finite(m.r2_clipped) if m else None,
        "test_nmse": _finite(m.nmse) if m else None,
        "test_nmae": _finite(m.nmae) if m else None,
        "bootstrap_95": [b.low, b.high] if b else None,
        "parameters": report.parameters,
    }


def finalize(
    store: RunStore,
    task: Task,
    *,
    seed: int,
    restarts: int,
    bootstrap: int,
    bootstrap_restarts: int | None = None,
    out_dir: Path | None = None,
    pick: PickSettings | None = None,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the final pick (training rows only), then score the picked law and the human law on
    held-out rows, and write the report files once.

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
        picked = pick_law(record.population, task, pick, fitted=store.fitted())
        store.set_state(PICK_STATE, picked.model_dump(mode="json"))
        record = read_run(store)
    chosen = record.chosen
    texts = {"chosen": chosen.text if chosen else None, "human": task.reference_law}
    named = [kind for kind, text in texts.items() if text]
    if named:
        step(
            f"held-out scores: the {' and the '.join(named)} law"
            f"{'s' if len(named) > 1 else ''}"
            f"{f', {bootstrap} resamples each' if bootstrap > 0 else ''}"
        )
    reports: dict[str, ScoreReport] = {
        kind: heldout_score(
            parse_for_task(text, task),
            task,
            seed=seed,
            restarts=restarts,
            bootstrap=bootstrap,
            bootstrap_restarts=bootstrap_restarts,
        )
        for kind, text in texts.items()
        if text
    }
    for kind, scored in reports.items():
        store.record_heldout(
            kind=kind,
            text=scored.law,
            r2=scored.metrics.r2 if scored.metrics else float("nan"),
            report=scored.model_dump(mode="json"),
            candidate_id=chosen.id if kind == "chosen" and chosen else None,
        )
    report = build_report(record, task, heldout=reports)
    out = Path(out_dir) if out_dir is not None else store.path.parent
    step("writing the report and the plot")
    if reports:
        write_extrapolation(task, reports, out / PLOT_PNG)
        report["plot"] = str(out / PLOT_PNG)
    write_report(report, out)
    return report


def build_report(
    record: RunRecord,
    task: Task | None = None,
    *,
    heldout: Mapping[str, ScoreReport] | None = None,
) -> dict[str, Any]:
    """The report as plain data, from one read of the run.

    Held-out entries come from ``heldout`` when given (just computed), else from
    the store's held-out table as read in ``record``. LaTeX/Python exports of
    the chosen law need ``task``.
    """
    snap = record.snapshot
    summary = snap.summary
    chosen = record.chosen
    aliases = _aliases(task)
    notes = {i: law_notes(row, aliases=aliases) for i, row in record.scored.items()}
    law_exports: dict[str, str] = {}
    if chosen is not None and task is not None:
        law = parse_for_task(chosen.text, task)
        law_exports = {"latex": law.latex(), "python": law.python()}
    if heldout is None:
        heldout = {row.kind: ScoreReport.model_validate(row.report) for row in snap.heldout}
    return {
        "task": summary.task,
        "seed": summary.seed,
        "candidates": summary.candidates,
        "by_status": summary.by_status,
        "generations": (summary.generation or 0) + 1 if summary.generation is not None else 0,
        "elapsed_seconds": snap.state.get("elapsed", 0.0),
        "stopped_by": snap.stopped_by,
        "progress": snap.state.get("progress") or {},
        "chosen": (
            {**_candidate_entry(chosen), **notes.get(chosen.id, law_notes(None, aliases={}))}
            if chosen is not None
            else None
        ),
        "chosen_exports": law_exports,
        "pick": _pick_entry(record.pick, notes),
        "pareto_front": [_candidate_entry(m) for m in record.front],
        "heldout": {
            kind: _heldout_entry(heldout[kind]) if kind in heldout else None
            for kind in ("chosen", "human")
        },
        "config": snap.config,
        "versions": snap.versions,
        "llm": {
            "calls": summary.llm_calls,
            "prompt_tokens": summary.prompt_tokens,
            "completion_tokens": summary.completion_tokens,
            "usd": summary.usd,
        },
    }


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


def _num(x: float | None, digits: int = 4) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _notes_lines(entry: Mapping[str, Any]) -> list[str]:
    """A law's hypothesis and where its fold fits miss, as Markdown lines (none when unknown)."""
    lines = [f"hypothesis: {entry['hypothesis']}", ""] if entry.get("hypothesis") else []
    if entry.get("residuals"):
        lines.append(f"{entry['residuals']}:")
        lines += [f"- {words}" for words in entry.get("diagnostics") or []]
    return lines


def _why_lines(pick: Mapping[str, Any] | None) -> list[str]:
    """The final pick as a Markdown table: why the winner won."""
    if not pick:
        return []
    lines = [
        "",
        "## Why this law (final pick, training rows only)",
        "",
        f"{pick['reason']}.",
        "",
        "| rank | law | params | fold NMSE (fold 0 first) | pessimistic error | checks |",
        "|---|---|---|---|---|---|",
    ]
    for e in pick["ranked"]:
        folds = ", ".join(_num(v, 3) for v in e["fold_nmse"])
        checks = "passed" if e["checks_passed"] else "; ".join(e["check_reasons"]) or "not run"
        lines.append(
            f"| {e['rank']} | `{e['law']}` | {e['n_params']} | {folds} | "
            f"{_num(e['pessimistic_error'], 4)} | {checks} |"
        )
    runners_up = [e for e in pick["ranked"] if e["id"] != pick["chosen"] and _notes_lines(e)]
    if runners_up:
        lines += ["", "Where the runners-up miss:"]
    for e in runners_up[:RUNNERS_UP]:
        lines += ["", f"rank {e['rank']}: `{e['law']}`", ""] + _notes_lines(e)
    return lines


def render_markdown(report: Mapping[str, Any]) -> str:
    """A human-readable report (Markdown)."""
    lines = [f"# sld discovery: {report['task']}", ""]
    lines.append(
        f"seed {report['seed']}, {report['candidates']} candidates "
        f"({', '.join(f'{k} {v}' for k, v in sorted(report['by_status'].items()))}), "
        f"{_num(report['elapsed_seconds'], 0)} s"
    )
    lines += ["", "## Chosen law (selected on validation only)", ""]
    chosen = report["chosen"]
    if chosen is None:
        lines.append("no law was scored")
    else:
        lines.append(f"`{chosen['text']}`")
        lines.append("")
        lines.append(
            f"validation R² {_num(chosen['validation_r2'])}, complexity {chosen['complexity']}, "
            f"{chosen['n_params']} parameters"
        )
        notes = _notes_lines(chosen)
        if notes:
            lines += ["", *notes]
        exports = report.get("chosen_exports") or {}
        if exports:
            lines += [
                "",
                "LaTeX:",
                "",
                f"$$ {exports['latex']} $$",
                "",
                "Python:",
                "",
                "```python",
                exports["python"],
                "```",
            ]
    lines += _why_lines(report.get("pick"))
    lines += [
        "",
        "## Held-out extrapolation (computed after selection)",
        "",
        "| law | test R² | 95 % bootstrap | NMSE | NMAE |",
        "|---|---|---|---|---|",
    ]
    for kind in ("chosen", "human"):
        e = report["heldout"].get(kind)
        if e is None:
            continue
        interval = e.get("bootstrap_95")
        lines.append(
            f"| {kind}: `{e['law']}` | {_num(e['test_r2'])} | "
            f"{'[' + _num(interval[0]) + ', ' + _num(interval[1]) + ']' if interval else '—'} | "
            f"{_num(e['test_nmse'])} | {_num(e['test_nmae'])} |"
        )
    lines += [
        "",
        "## Pareto front (validation NMSE vs complexity)",
        "",
        "| complexity | params | validation R² | law |",
        "|---|---|---|---|",
    ]
    for m in report["pareto_front"]:
        lines.append(
            f"| {m['complexity']} | {m['n_params']} | {_num(m['validation_r2'])} | `{m['text']}` |"
        )
    return "\n".join(lines) + "\n"
