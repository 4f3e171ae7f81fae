"""The report as Markdown (what ``report.md`` holds), rendered from the plain-data report."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

RUNNERS_UP = 3  # how many of the final pick's other laws report.md describes


def _num(x: float | None, digits: int = 4) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _sig(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.3g}"


def _notes_lines(entry: Mapping[str, Any]) -> list[str]:
    """A law's hypothesis and where its fold fits miss, as Markdown lines (none when unknown)."""
    lines = [f"hypothesis: {entry['hypothesis']}", ""] if entry.get("hypothesis") else []
    if entry.get("residuals"):
        lines.append(f"{entry['residuals']}:")
        lines += [f"- {words}" for words in entry.get("diagnostics") or []]
    return lines


def _directions_line(directions: Mapping[str, Any] | None) -> str:
    """Which monotone directions the extrapolation checks used, and their source."""
    if not directions or not directions["inputs"]:
        return "Extrapolation checks: no monotone direction declared or read from the rows."
    listed = ", ".join(f"{k} {v}" for k, v in directions["inputs"].items())
    source = "declared" if directions["source"] == "declared" else "read from the training rows"
    return f"Extrapolation checks held laws to: {listed} ({source})."


def _pessimistic(entry: Mapping[str, Any], *, bootstrap: int) -> str:
    """A pick entry's pessimistic error, or why it has none."""
    value = entry["pessimistic_error"]
    if value is None and bootstrap > 0:
        return "not resampled (point error already loses)"
    return _num(value, 4)


def _params_cell(entry: Mapping[str, Any], pick: Mapping[str, Any]) -> str:
    """``4``, or ``4 + 1 frozen`` where the pick charged frozen terms as parameters."""
    frozen = entry.get("frozen_terms", 0) if pick["settings"].get("frozen") else 0
    return f"{entry['n_params']} + {frozen} frozen" if frozen else f"{entry['n_params']}"


ROUTE_WORDS = {
    "supported": "best-supported: the lowest information criterion of its fold-0 fit",
    "prior": "prior law: the best of generation 0, proposed before any fold score",
}


def _law_cell(entry: Mapping[str, Any]) -> str:
    """The law; for an unfrozen variant the law whose place it took in the pool, and for a
    law a route brought (not the search's rank) which route."""
    parent = entry.get("unfrozen_from")
    route = ROUTE_WORDS.get(entry.get("route") or "")
    notes = [f"law {parent} unfrozen"] if parent is not None else []
    notes += [route] if route else []
    return f"`{entry['law']}`" + "".join(f" ({note})" for note in notes)


def _why_lines(pick: Mapping[str, Any] | None, directions: Mapping[str, Any] | None) -> list[str]:
    """The final pick as a Markdown table: why the winner won."""
    if not pick:
        return []
    lines = [
        "",
        "## Why this law (final pick, training rows only)",
        "",
        f"{pick['reason']}.",
        "",
        _directions_line(directions),
        "",
        "| rank | law | params | fold NMSE (fold 0 first) | pessimistic error | checks |",
        "|---|---|---|---|---|---|",
    ]
    for e in pick["ranked"]:
        folds = ", ".join(_num(v, 3) for v in e["fold_nmse"])
        checks = "passed" if e["checks_passed"] else "; ".join(e["check_reasons"]) or "not run"
        lines.append(
            f"| {e['rank']} | {_law_cell(e)} | {_params_cell(e, pick)} | {folds} | "
            f"{_pessimistic(e, bootstrap=pick['settings']['bootstrap'])} | {checks} |"
        )
    runners_up = [e for e in pick["ranked"] if e["id"] != pick["chosen"] and _notes_lines(e)]
    if runners_up:
        lines += ["", "Where the runners-up miss:"]
    for e in runners_up[:RUNNERS_UP]:
        lines += ["", f"rank {e['rank']}: `{e['law']}`", ""] + _notes_lines(e)
    return lines


def start_standing(entry: Mapping[str, Any], *, picked: bool) -> tuple[str, str]:
    """Where a report's start law stands: its status (with the reason for a duplicate or a
    failed fit) and its place in the final pick (``picked``: the run had one)."""
    status = entry["status"]
    if entry.get("reason"):
        status = f"{status}: {entry['reason']}"
    if entry["chosen"]:
        pick = "chosen"
    elif entry["pick_rank"] is not None:
        pick = f"rank {entry['pick_rank']}"
    else:
        pick = "not among the laws re-fitted" if picked else "—"
    return status, pick


def _start_lines(starts: Sequence[Mapping[str, Any]], *, picked: bool) -> list[str]:
    """The start laws' section: where each stands after the search and the final pick
    (``picked``: the run had one)."""
    if not starts:
        return []
    lines = [
        "",
        "## Start laws (given by you, selected on validation like any other)",
        "",
        "| # | law | status | validation R² | selection error | final pick |",
        "|---|---|---|---|---|---|",
    ]
    for n, e in enumerate(starts, start=1):
        status, pick = start_standing(e, picked=picked)
        lines.append(
            f"| {n} | `{e['text']}` | {status} | {_num(e['validation_r2'])} | "
            f"{_sig(e['selection_error'])} | {pick} |"
        )
    return lines


def _after_search(report: Mapping[str, Any]) -> str:
    """The seconds after the search that the run recorded, as in ``, 109 s of final pick``."""
    parts = [
        f", {_num(report[key], 0)} s of {what}"
        for key, what in (("pick_seconds", "final pick"), ("heldout_seconds", "held-out scores"))
        if report.get(key) is not None
    ]
    return "".join(parts)


def _rehearsal_lines(report: Mapping[str, Any]) -> list[str]:
    """What the test rows of a rehearsal are (:func:`sld.corpus.task.rehearsal`); none otherwise."""
    task = (report.get("config") or {}).get("task") or {}
    if not task.get("rehearse"):
        return []
    return [
        "A rehearsal: the test rows are the validation slice of the task's training rows, and",
        "the search saw only the rows below it; the task's real test rows were not loaded.",
        "",
    ]


def render_markdown(report: Mapping[str, Any]) -> str:
    """A human-readable report (Markdown)."""
    lines = [f"# sld discovery: {report['task']}", ""]
    lines.append(
        f"seed {report['seed']}, {report['candidates']} candidates "
        f"({', '.join(f'{k} {v}' for k, v in sorted(report['by_status'].items()))}), "
        f"{_num(report['elapsed_seconds'], 0)} s of search{_after_search(report)}"
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
    lines += _why_lines(report.get("pick"), report.get("directions"))
    starts = report.get("start_laws") or []  # absent from reports written before start laws
    lines += _start_lines(starts, picked=report.get("pick") is not None)
    lines += [
        "",
        "## Held-out extrapolation (computed after selection)",
        "",
        *_rehearsal_lines(report),
        "| law | test R² | 95 % bootstrap | NMSE | NMAE |",
        "|---|---|---|---|---|",
    ]
    held = [(kind, report["heldout"].get(kind)) for kind in ("chosen", "human")]
    held += [(f"start {n}", start["heldout"]) for n, start in enumerate(starts, start=1)]
    for label, e in held:
        if e is None:
            continue
        interval = e.get("bootstrap_95")
        lines.append(
            f"| {label}: `{e['law']}` | {_num(e['test_r2'])} | "
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
