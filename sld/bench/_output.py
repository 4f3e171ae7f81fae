"""A bench's outputs: ``bench.json`` (strict JSON), ``bench.md`` and ``bench.png``.

Each file is written whole or not at all, so a killed bench never leaves a
half table; the next run writes them again from the stores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from sld.bench._table import BenchTable, TaskRow
from sld.report import write_atomically
from sld.strict_json import dumps

BENCH_JSON = "bench.json"
BENCH_MD = "bench.md"
BENCH_PNG = "bench.png"

CLIP = -1.0  # test R² below this is drawn at the clip line, with its value written beside it


def output_paths(root: str | Path) -> dict[str, Path]:
    """Where a bench in ``root`` writes its outputs, by kind (json, markdown, plot)."""
    root = Path(root)
    return {"json": root / BENCH_JSON, "markdown": root / BENCH_MD, "plot": root / BENCH_PNG}


def write_outputs(table: BenchTable, root: Path) -> dict[str, str]:
    """Write the three files into ``root``; returns their paths by kind."""
    paths = output_paths(root)
    write_atomically(paths["json"], dumps(table.to_dict()) + "\n")
    write_atomically(paths["markdown"], render_markdown(table))
    plot_bench(table, paths["plot"])
    return {kind: str(path) for kind, path in paths.items()}


# -- numbers ------------------------------------------------------------------------------------


def r2_text(value: float) -> str:
    """An R² for a table: 4 decimals, 3 significant digits when it is far below zero."""
    if not math.isfinite(value):
        return "—"
    return f"{value:.4f}" if value > -100 else f"{value:.3g}"


def duration_text(seconds: float) -> str:
    """``95`` -> ``1m 35s``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def budget_text(run: dict[str, Any]) -> str:
    """The runs' budgets and proposer, as flags (``--time 3m --generations 3``)."""
    parts = []
    if run.get("time_limit") is not None:
        parts.append(f"--time {duration_text(float(run['time_limit'])).replace(' ', '')}")
    if run.get("generations") is not None:
        parts.append(f"--generations {run['generations']}")
    if run.get("max_candidates") is not None:
        parts.append(f"--candidates {run['max_candidates']}")
    parts.append(f"--proposer {run.get('proposer', 'offline')}")
    return " ".join(parts)


def spread_text(task: TaskRow) -> str:
    """``0.9990 [0.9985, 0.9993]``: the median seed's test R², then min and max over seeds."""
    if task.median_seed is None:
        return "—"
    if task.finished == 1:
        return r2_text(task.test_r2_median)
    return (
        f"{r2_text(task.test_r2_median)} [{r2_text(task.test_r2_min)}, {r2_text(task.test_r2_max)}]"
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# -- bench.md -----------------------------------------------------------------------------------


def render_markdown(table: BenchTable) -> str:
    """The bench as Markdown: what was run, the per-task table, the per-seed table."""
    config = table.config
    counts = table.counts()
    lines = [
        "# sld bench",
        "",
        f"{len(config.names)} task{'s' if len(config.names) != 1 else ''} × "
        f"{config.seeds} seed{'s' if config.seeds != 1 else ''} (seeds 0–{config.seeds - 1}), "
        f"{budget_text(config.run)}; {counts['finished']} of {len(table.runs)} runs finished"
        + (
            f", {counts['unfinished']} unfinished, {counts['pending']} not started"
            if not table.complete
            else ""
        )
        + ".",
        "",
        "Test R² is the held-out score of the law each run chose on validation data alone. "
        "Per task: the median seed's test R² (the lower middle run for an even count), "
        "then [min, max] over seeds; the law shown is the median seed's. "
        "*fitted* counts candidate fits over all seeds; *wall* is search time summed over seeds; "
        "per seed, *then* is the time the final pick and the held-out scores took after it.",
        "",
        "## Per task",
        "",
        "| task | human test R² | chosen test R² median [min, max] | chosen law (median seed) "
        "| fitted | wall |",
        "|---|---|---|---|---|---|",
    ]
    for t in table.tasks:
        law = f"`{_cell(t.chosen_law)}` (seed {t.median_seed})" if t.chosen_law else "—"
        lines.append(
            f"| {t.task} | {r2_text(t.human_test_r2)} | {spread_text(t)}"
            f"{'' if t.finished == t.seeds else f' ({t.finished}/{t.seeds} seeds)'} | {law} "
            f"| {t.fitted} | {duration_text(t.wall_seconds)} |"
        )
    lines += [
        "",
        "## Per seed",
        "",
        "| task | seed | state | test R² | human test R² | validation R² | chosen law "
        "| candidates | fitted | generations | wall | then | stopped by | run directory |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.runs:
        state = r.state + (f" ({_cell(r.error)})" if r.error else "")
        lines.append(
            f"| {r.task} | {r.seed} | {state} | {r2_text(r.test_r2)} | "
            f"{r2_text(r.human_test_r2)} | {r2_text(r.validation_r2)} | "
            f"{f'`{_cell(r.chosen_law)}`' if r.chosen_law else '—'} | {r.candidates} | "
            f"{r.fitted} | {r.generations} | {duration_text(r.wall_seconds)} | "
            f"{'—' if r.scoring_seconds is None else duration_text(r.scoring_seconds)} | "
            f"{_cell(r.stopped_by) or '—'} | `{r.run_dir}` |"
        )
    return "\n".join(lines) + "\n"


# -- bench.png ----------------------------------------------------------------------------------


def _axis_floor(values: list[float]) -> float:
    """Left end of the R² axis: a margin below the lowest value, but never below the clip."""
    finite = [v for v in values if math.isfinite(v)]
    low = min(finite, default=0.0)
    if low < CLIP:
        return CLIP - 0.08
    low = min(low, 0.99)
    return low - 0.08 * (1.0 - low)


def plot_bench(table: BenchTable, path: Path) -> list[tuple[str, int, float]]:
    """Test R² per task: one dot per seed, the human law as a red bar; values below
    :data:`CLIP` sit on the clip line as a left-pointing triangle with their value.

    Returns the clipped seeds as (task, seed, test R²).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(table.tasks)
    finished = [r for r in table.runs if r.state == "finished"]
    values = [r.test_r2 for r in finished] + [t.human_test_r2 for t in tasks]
    floor = _axis_floor(values)
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(tasks) + 1.8))
    seeds = max(table.config.seeds, 1)
    labels = _Legend()
    clipped: list[tuple[str, int, float]] = []
    for row, task in enumerate(tasks):
        y = len(tasks) - 1 - row
        for run in (r for r in finished if r.task == task.task):
            offset = (run.seed - (seeds - 1) / 2) * min(0.5 / seeds, 0.12)
            _dot(ax, run.test_r2, y + offset, left=floor, labels=labels)
            if run.test_r2 < CLIP:
                clipped.append((run.task, run.seed, run.test_r2))
        if math.isfinite(task.human_test_r2):
            x = max(task.human_test_r2, CLIP)
            ax.plot(
                [x],
                [y],
                marker="|",
                markersize=18,
                mew=2.5,
                color="tab:red",
                linestyle="none",
                label=labels.once("human law"),
                zorder=3,
            )
            if task.human_test_r2 < CLIP:
                ax.annotate(
                    f"human {r2_text(task.human_test_r2)}",
                    (x, y),
                    xytext=(6, 6),
                    textcoords="offset points",
                    fontsize=7,
                    color="tab:red",
                )
    if floor < CLIP:
        ax.axvline(CLIP, color="0.4", linestyle=":", linewidth=1)
        ax.text(CLIP, len(tasks) - 0.4, f" clipped at {CLIP:g}", fontsize=7, color="0.3")
    ax.set_yticks(range(len(tasks)), [t.task for t in reversed(tasks)], fontsize=8)
    ax.set_ylim(-0.7, len(tasks) - 0.3)
    ax.set_xlim(floor, 1.0 + 0.02 * (1.0 - floor))
    ax.axvline(1.0, color="0.85", linewidth=0.8, zorder=0)
    ax.grid(axis="x", color="0.92")
    ax.set_xlabel("held-out (test) R²")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(
        f"sld bench: {len(tasks)} tasks × {table.config.seeds} seeds, "
        f"{budget_text(table.config.run)}",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial.png")
    fig.savefig(partial, dpi=110)
    plt.close(fig)
    partial.replace(path)
    return clipped


def _dot(ax: Any, value: float, y: float, *, left: float, labels: _Legend) -> None:
    if not math.isfinite(value):  # no law was chosen or scored: a cross at the axis' left end
        x = left + 0.01 * (1.0 - left)
        ax.plot(
            [x],
            [y],
            marker="x",
            color="0.3",
            linestyle="none",
            label=labels.once("run without a scored law"),
        )
        ax.annotate(
            "not scored",
            (x, y),
            xytext=(6, -3),
            textcoords="offset points",
            fontsize=7,
            color="0.3",
        )
        return
    if value < CLIP:
        ax.plot(
            [CLIP],
            [y],
            marker="<",
            markersize=8,
            color="tab:orange",
            linestyle="none",
            label=labels.once(f"below {CLIP:g} (value written)"),
            zorder=4,
        )
        ax.annotate(
            r2_text(value),
            (CLIP, y),
            xytext=(7, -3),
            textcoords="offset points",
            fontsize=7,
            color="tab:orange",
        )
        return
    ax.plot(
        [value],
        [y],
        marker="o",
        markersize=6,
        color="tab:blue",
        alpha=0.85,
        linestyle="none",
        label=labels.once("chosen law, one dot per seed"),
        zorder=4,
    )


class _Legend:
    """Each legend entry once: the first mark of a kind gets the label."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def once(self, label: str) -> str | None:
        if label in self.seen:
            return None
        self.seen.add(label)
        return label
