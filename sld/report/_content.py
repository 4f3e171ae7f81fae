"""The report as plain data (what ``report.json`` holds), from one read of the run: the chosen
law with its notes and exports, the final pick's ranking, the Pareto front, held-out scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sld.corpus import Task, direction
from sld.evolve.offline import NAME as OFFLINE
from sld.evolve.population import Member
from sld.evolve.start import NAME as START
from sld.report._record import RunRecord, read_run
from sld.scoring import (
    PickReport,
    ResidualDiagnostics,
    ScoreReport,
    diagnostics_headline,
    diagnostics_words,
    parse_for_task,
)
from sld.store import FittedRow, RunReader

# run store state keys: seconds the final pick and the held-out scores took (the search's own
# seconds are the engine's "elapsed"); absent in stores finalized before they were recorded
PICK_SECONDS = "pick_seconds"
HELDOUT_SECONDS = "heldout_seconds"


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
            "parsimony": pick.parsimony,
            "consensus": pick.consensus,
            "steady": pick.steady,
            "polish": pick.polish,
            "narrow": pick.narrow,
            "frozen": pick.frozen,
            "unfreeze": pick.unfreeze,
        },
        "window": pick.window,
        "windows": [w.model_dump(mode="json") for w in pick.windows],
        "ranked": [
            {
                "rank": e.rank,
                "id": e.id,
                "law": e.law,
                "complexity": e.complexity,
                "n_params": e.n_params,
                "frozen_terms": e.frozen_terms,
                "unfrozen_from": pick.unfrozen.get(e.id),
                "route": pick.routes.get(e.id),
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


def _start_entries(
    record: RunRecord, heldout: Mapping[int, ScoreReport], chosen: int | None
) -> list[dict[str, Any]]:
    """Each start law (:mod:`sld.evolve.start`), in order: where it stands (``status``, with the
    ``reason`` for a duplicate, a failed fit or a rejection), its validation score, its rank in
    the final pick (None: not among the laws the pick re-fitted), whether it was chosen, and its
    held-out score (None when it was not fitted)."""
    pick = record.pick
    ranks = {e.id: e.rank for e in pick.entries} if pick is not None else {}
    out = []
    for candidate in record.starts:
        row = record.scored.get(candidate.id)
        out.append(
            {
                "id": candidate.id,
                "text": candidate.text,
                "status": candidate.status,
                "reason": candidate.reason,
                "validation_r2": _finite(row.r2) if row is not None else None,
                "selection_error": _finite(row.error) if row is not None else None,
                "pick_rank": ranks.get(candidate.id),
                "chosen": candidate.id == chosen,
                "heldout": (
                    _heldout_entry(heldout[candidate.id]) if candidate.id in heldout else None
                ),
            }
        )
    return out


def _directions(task: Task | None) -> dict[str, Any] | None:
    """The monotone directions the extrapolation checks held laws to, and where they came from:
    ``declared`` (a card's ``[monotone]`` or ``--monotone``) or ``training rows``."""
    if task is None:
        return None
    return {
        "inputs": {k: direction(v) for k, v in task.monotone.items()},
        "source": "declared" if task.card.monotone else "training rows" if task.monotone else None,
    }


def build_report(
    record: RunRecord,
    task: Task | None = None,
    *,
    heldout: Mapping[str, ScoreReport] | None = None,
    start_heldout: Mapping[int, ScoreReport] | None = None,
) -> dict[str, Any]:
    """The report as plain data, from one read of the run.

    Held-out entries come from ``heldout`` (kind -> report) and ``start_heldout`` (start law's
    candidate id -> report) when given (just computed), else from the store's held-out table
    as read in ``record``. LaTeX/Python exports of the chosen law need ``task``.
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
        heldout = {
            row.kind: ScoreReport.model_validate(row.report)
            for row in snap.heldout
            if row.kind != START
        }
    if start_heldout is None:
        start_heldout = {
            row.candidate_id: ScoreReport.model_validate(row.report)
            for row in snap.heldout
            if row.kind == START and row.candidate_id is not None
        }
    return {
        "task": summary.task,
        "seed": summary.seed,
        "candidates": summary.candidates,
        "by_status": summary.by_status,
        "generations": (summary.generation or 0) + 1 if summary.generation is not None else 0,
        "elapsed_seconds": snap.state.get("elapsed", 0.0),
        "pick_seconds": snap.state.get(PICK_SECONDS),
        "heldout_seconds": snap.state.get(HELDOUT_SECONDS),
        "stopped_by": snap.stopped_by,
        "progress": snap.state.get("progress") or {},
        "chosen": (
            {**_candidate_entry(chosen), **notes.get(chosen.id, law_notes(None, aliases={}))}
            if chosen is not None
            else None
        ),
        "chosen_exports": law_exports,
        "directions": _directions(task),
        "pick": _pick_entry(record.pick, notes),
        "pareto_front": [_candidate_entry(m) for m in record.front],
        "heldout": {
            kind: _heldout_entry(heldout[kind]) if kind in heldout else None
            for kind in ("chosen", "human")
        },
        "start_laws": _start_entries(
            record, start_heldout, chosen.id if chosen is not None else None
        ),
        "config": snap.config,
        "versions": snap.versions,
        "llm": {
            "calls": summary.llm_calls,
            "prompt_tokens": summary.prompt_tokens,
            "completion_tokens": summary.completion_tokens,
            "usd": summary.usd,
        },
    }
