"""How each command draws its result on the terminal (``--json`` prints the data instead)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def console() -> Console:
    """The terminal, without rich's guesses at highlighting, and without markup: laws, card
    text, paths and reasons are printed as they are (a "[nats]" or "[prices.<model>]" in
    them would otherwise be read as a style tag and vanish); emphasis is a :class:`Text` style."""
    return Console(highlight=False, soft_wrap=False, markup=False)


def print_json(payload: Any) -> None:
    """Strict JSON on stdout: non-finite numbers are null, listed under ``non_finite``."""
    from sld.strict_json import dumps

    sys.stdout.write(dumps(payload) + "\n")


def fmt(value: float | None, digits: int = 4) -> str:
    """A metric for display; '—' when missing or not a number."""
    if value is None or value != value:
        return "—"
    return f"{value:.{digits}f}"


def _aliased(names: Sequence[str], card_vars: Any) -> str:
    alias = {v.name: v.alias for v in card_vars}
    return ", ".join(alias.get(n) or n for n in names)


def tasks_table(summaries: Sequence[Mapping[str, Any]], cards: Mapping[str, Any]) -> None:
    """``sld tasks``: one row per task, inputs and outputs by alias."""
    table = Table(title="sld tasks", show_lines=False)
    for column, justify in (
        ("task", "left"),
        ("inputs -> outputs", "left"),
        ("groups", "right"),
        ("train", "right"),
        ("val", "right"),
        ("test", "right"),
        ("source", "left"),
    ):
        table.add_column(column, justify=justify, no_wrap=column == "task")  # type: ignore[arg-type]
    for s in summaries:
        card = cards[s["name"]]
        arrow = f"{_aliased(s['inputs'], card.inputs)} -> {_aliased(s['outputs'], card.outputs)}"
        table.add_row(
            s["name"],
            arrow,
            str(s["groups"]),
            str(s["train_rows"]),
            str(s["validation_rows"]),
            str(s["test_rows"]),
            s["source_short"],
        )
    console().print(table)
    console().print("inputs and outputs by alias; 'sld tasks show NAME' for the card")


def task_card(task: Any, summary: Mapping[str, Any], ranges: Sequence[Mapping[str, Any]]) -> None:
    """``sld tasks show``: the card, its variables and each group's ranges."""
    card = task.card
    out = console()
    out.print(Text(task.name, style="bold"), *(("—", card.title) if card.title else ()))
    out.print(card.description)
    variables = Table(title="variables")
    for column in ("role", "name", "alias", "unit", "log", "description"):
        variables.add_column(column)
    for role, items in (("input", card.inputs), ("output", card.outputs)):
        for v in items:
            variables.add_row(
                role,
                v.name,
                v.alias or "",
                v.unit or "",
                "yes" if task.log_scale.get(v.name, v.log_scale) else "",
                v.description,
            )
    out.print(variables)
    s = summary
    out.print(
        f"group: {card.group}\nrows: train {s['train_rows']} (validation {s['validation_rows']}), "
        f"test {s['test_rows']}, groups {s['groups']}\n"
        f"parameter limit: {task.max_params or 'none set'}\n"
        f"reference law: {task.reference_law or '—'}\nlicense: {s['license'] or '—'}"
    )
    if s.get("folds"):
        along = f"along {task.card.validation.scale}" if task.validation_scale else "random"
        out.print(
            f"selection folds ({along}), fit rows → scored rows: "
            + ", ".join(f"{f['fit_rows']} → {f['score_rows']}" for f in s["folds"])
        )
    for source in getattr(card, "sources", None) or []:
        out.print(
            f"source: {source.paper}"
            + (f" ({source.repository})" if getattr(source, "repository", None) else "")
        )
    for caveat in getattr(card, "caveats", None) or []:
        out.print(f"caveat: {caveat}")
    groups = Table(title="groups (ranges over train and test rows)")
    groups.add_column("group")
    groups.add_column("train", justify="right")
    groups.add_column("test", justify="right")
    for name in task.inputs:
        groups.add_column(name, justify="right")
    shown = ranges if len(ranges) <= 50 else ranges[:50]
    for r in shown:
        groups.add_row(
            r["group"],
            str(r["train_rows"]),
            str(r["test_rows"]),
            *(f"{r[n][0]:.4g} – {r[n][1]:.4g}" if n in r else "" for n in task.inputs),
        )
    out.print(groups)


def score_lines(report: Any) -> None:
    """``sld score``: the law, its fit, and its metrics on the split."""
    out = console()
    out.print(Text(report.task, style="bold"), "", report.law)
    out.print(
        f"complexity {report.complexity}, parameters {report.n_parameters}, fit "
        f"{'converged' if report.fit.converged else 'not converged'} "
        f"(train loss {report.fit.train_loss:.3g}, {report.seconds['fit']:.2f} s)"
    )
    if report.metrics is None:
        out.print(f"{report.split}: not scored: {report.reason}")
        return
    m = report.metrics
    line = f"{report.split} ({m.rows} rows): R² {fmt(m.r2)}  NMSE {fmt(m.nmse)}  NMAE {fmt(m.nmae)}"
    if report.bootstrap is not None:
        b = report.bootstrap
        line += f"  R² 95% [{fmt(b.low)}, {fmt(b.high)}] ({b.samples} refits)"
    out.print(line)


def baseline_table(rows: Sequence[Mapping[str, Any]]) -> None:
    """``sld baseline``: each task's human law and its held-out scores."""
    table = Table(title="reference human laws, held-out scores")
    for column in ("task", "R² (clipped)", "NMSE", "NMAE", "params", "law"):
        table.add_column(column)
    for r in rows:
        if not r["ok"]:
            table.add_row(r["task"], "—", "—", "—", "", r.get("reason") or "")
            continue
        table.add_row(
            r["task"],
            fmt(r["test_r2_clipped"]),
            fmt(r["test_nmse"]),
            fmt(r["test_nmae"]),
            str(r["parameters"]),
            r["law"],
        )
    console().print(table)


def render_report(report: Mapping[str, Any]) -> None:
    """The final report on the terminal: chosen law, held-out scores beside the human law and
    any start laws, Pareto front."""
    from sld.report import start_standing

    out = console()
    out.print(
        Text(f"{report['task']}:", style="bold"),
        f"{report['candidates']} candidates, "
        f"stopped by {report.get('stopped_by') or 'budget'}; run in {report.get('run_dir', '')}",
    )
    chosen = report.get("chosen")
    if chosen is None:
        out.print("no law was scored")
        return
    out.print(
        f"chosen (validation R² {fmt(chosen['validation_r2'])}, complexity {chosen['complexity']}):"
    )
    out.print(f"  {chosen['text']}")
    if chosen.get("hypothesis"):
        out.print(f"  hypothesis: {chosen['hypothesis']}", markup=False)
    for words in chosen.get("diagnostics") or []:
        out.print(f"  misses: {words}", markup=False)
    exports = report.get("chosen_exports") or {}
    if exports:
        out.print(f"  LaTeX: {exports['latex']}")
    held = Table(title="held-out extrapolation (after selection)")
    for column in ("law", "test R²", "95% bootstrap", "NMSE", "NMAE"):
        held.add_column(column)
    starts = report.get("start_laws") or []
    rows = [(kind, (report.get("heldout") or {}).get(kind)) for kind in ("chosen", "human")]
    rows += [(f"start {n}", start["heldout"]) for n, start in enumerate(starts, start=1)]
    for label, e in rows:
        if e is None:
            continue
        interval = e.get("bootstrap_95")
        held.add_row(
            label,
            fmt(e.get("test_r2")),  # unclipped, as its bootstrap interval
            f"[{fmt(interval[0])}, {fmt(interval[1])}]" if interval else "—",
            fmt(e.get("test_nmse")),
            fmt(e.get("test_nmae")),
        )
    out.print(held)
    for n, start in enumerate(starts, start=1):
        status, pick = start_standing(start, picked=report.get("pick") is not None)
        out.print(
            f"start {n}: {start['text']} ({status}, validation R² "
            f"{fmt(start['validation_r2'])}, final pick: {pick})",
            markup=False,
        )
    front = Table(title="Pareto front (validation)")
    for column in ("complexity", "params", "val R²", "law"):
        front.add_column(column)
    for m in report.get("pareto_front", [])[:15]:
        front.add_row(str(m["complexity"]), str(m["n_params"]), fmt(m["validation_r2"]), m["text"])
    out.print(front)
    if report.get("plot"):
        out.print(f"plot: {report['plot']}")


def bench_summary(table: Any, outputs: Mapping[str, str]) -> None:
    """``sld bench``: the per-task table, then where the outputs are."""
    from sld.bench import r2_text, spread_text

    out = console()
    grid = Table(title=f"sld bench: {len(table.tasks)} tasks × {table.config.seeds} seeds")
    grid.add_column("task", no_wrap=True)
    grid.add_column("seeds", justify="right", no_wrap=True)
    grid.add_column("human test R²", justify="right", no_wrap=True)
    grid.add_column("chosen test R² median [min, max]", justify="right", no_wrap=True)
    grid.add_column("chosen law (median seed)", overflow="fold")
    grid.add_column("fitted", justify="right", no_wrap=True)
    for t in table.tasks:
        grid.add_row(
            t.task,
            f"{t.finished}/{t.seeds}",
            r2_text(t.human_test_r2),
            spread_text(t),
            t.chosen_law or "—",
            str(t.fitted),
        )
    out.print(grid)
    counts = table.counts()
    if not table.complete:
        out.print(
            f"{counts['finished']} of {len(table.runs)} runs finished; "
            "run the same command again to finish the others"
        )
    out.print(f"table: {outputs['markdown']}  data: {outputs['json']}  plot: {outputs['plot']}")
