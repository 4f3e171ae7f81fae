"""The bench table, read from the run stores alone: one row per run, one per task.

Everything here comes from one read-only snapshot of each run's store (no
report file, no bench process), so the same table is built by ``sld bench`` at
its end, by the TUI while a bench runs, and by anyone after.

Per task, over the seeds whose run has finished: the chosen laws' held-out
(test) R² as median, min and max, and the *median seed*, the run ranked
``(n - 1) // 2`` when the runs are sorted by test R² (a law that could not be
scored ranks lowest). For an even count that is the lower of the two middle
runs, so the reported median R² is always one real run's, the one whose chosen
law is shown. The human law's test R² is the same median over the runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from sld.bench._job import STOP_REQUESTED
from sld.bench._plan import BenchConfig, Job, jobs, read_config
from sld.errors import ConfigError, SldError
from sld.report import HELDOUT_SECONDS, PICK_SECONDS, REPORT_MD, read_run
from sld.store import RunReader

RunState = Literal["pending", "unfinished", "finished"]


@dataclasses.dataclass(frozen=True)
class RunRow:
    """One (task, seed) run as its store stands.

    ``state``: ``pending`` (no store yet), ``unfinished`` (searching, stopped, killed,
    or not yet reported) or ``finished`` (budget spent, report written). The law
    and validation R² are the population's best so far; test R² exist once reported.
    ``error``: why the last attempt failed, when the bench that ran it said so.
    """

    task: str
    seed: int
    run_dir: str
    state: RunState
    chosen_law: str = ""
    validation_r2: float = math.nan
    test_r2: float = math.nan
    human_test_r2: float = math.nan
    candidates: int = 0
    fitted: int = 0
    generations: int = 0
    wall_seconds: float = 0.0
    scoring_seconds: float | None = None  # the final pick and held-out scores (None: unrecorded)
    stopped_by: str = ""
    error: str = ""


@dataclasses.dataclass(frozen=True)
class TaskRow:
    """One task over its seeds (see the module docstring for the median seed)."""

    task: str
    seeds: int
    finished: int
    human_test_r2: float
    test_r2_median: float
    test_r2_min: float
    test_r2_max: float
    median_seed: int | None
    chosen_law: str
    fitted: int
    wall_seconds: float


@dataclasses.dataclass(frozen=True)
class BenchTable:
    """A whole bench: its config, a row per task and a row per run."""

    root: str
    config: BenchConfig
    tasks: tuple[TaskRow, ...]
    runs: tuple[RunRow, ...]

    @property
    def complete(self) -> bool:
        """Every run has finished."""
        return all(r.state == "finished" for r in self.runs)

    def counts(self) -> dict[RunState, int]:
        """Runs per state."""
        counts: dict[RunState, int] = {"pending": 0, "unfinished": 0, "finished": 0}
        for r in self.runs:
            counts[r.state] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """Plain data (what ``bench.json`` holds)."""
        return {
            "root": self.root,
            "complete": self.complete,
            "counts": self.counts(),
            "config": self.config.model_dump(mode="json"),
            "tasks": [dataclasses.asdict(t) for t in self.tasks],
            "runs": [dataclasses.asdict(r) for r in self.runs],
        }


def read_run_row(root: Path, job: Job, *, error: str = "") -> RunRow:
    """The row of ``job`` from one read of its store (``pending`` when there is none)."""
    run_dir = Path(root) / job.run_dir
    base = RunRow(task=job.task, seed=job.seed, run_dir=job.run_dir, state="pending", error=error)
    if not RunReader.exists(run_dir):
        return base
    try:
        with RunReader.open(run_dir) as reader:
            record = read_run(reader)
    except SldError as exc:  # a store still being created, or damaged: say so, go on
        return dataclasses.replace(base, state="unfinished", error=error or str(exc))
    snap = record.snapshot
    heldout = {row.kind: row for row in snap.heldout}
    chosen = record.chosen
    finished = (
        snap.finished and snap.stopped_by != STOP_REQUESTED and (run_dir / REPORT_MD).is_file()
    )
    by_status = snap.summary.by_status
    generation = snap.summary.generation
    return dataclasses.replace(
        base,
        state="finished" if finished else "unfinished",
        chosen_law=heldout["chosen"].text
        if "chosen" in heldout
        else (chosen.text if chosen else ""),
        validation_r2=chosen.r2 if chosen is not None else math.nan,
        test_r2=heldout["chosen"].r2 if "chosen" in heldout else math.nan,
        human_test_r2=heldout["human"].r2 if "human" in heldout else math.nan,
        candidates=snap.summary.candidates,
        fitted=by_status.get("fitted", 0) + by_status.get("failed", 0),
        generations=generation + 1 if generation is not None and generation >= 0 else 0,
        wall_seconds=float(snap.state.get("elapsed", 0.0) or 0.0),
        scoring_seconds=_scoring_seconds(snap.state),
        stopped_by=snap.stopped_by,
    )


def _scoring_seconds(state: Mapping[str, Any]) -> float | None:
    """Seconds of the final pick and the held-out scores, when the run recorded both."""
    parts = [state.get(key) for key in (PICK_SECONDS, HELDOUT_SECONDS)]
    seconds = [float(x) for x in parts if isinstance(x, int | float)]
    return sum(seconds) if len(seconds) == len(parts) else None


def _rank(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def _lower_median(values: Sequence[float]) -> float:
    ordered = sorted(values, key=_rank)
    return ordered[(len(ordered) - 1) // 2] if ordered else math.nan


def task_row(task: str, runs: Sequence[RunRow]) -> TaskRow:
    """The summary of one task's runs (see the module docstring)."""
    done = [r for r in runs if r.state == "finished"]
    ranked = sorted(done, key=lambda r: (_rank(r.test_r2), -r.seed))
    median = ranked[(len(ranked) - 1) // 2] if ranked else None
    finite = [r.test_r2 for r in done if math.isfinite(r.test_r2)]
    humans = [r.human_test_r2 for r in done if math.isfinite(r.human_test_r2)]
    return TaskRow(
        task=task,
        seeds=len(runs),
        finished=len(done),
        human_test_r2=_lower_median(humans),
        test_r2_median=median.test_r2 if median is not None else math.nan,
        test_r2_min=min(finite) if finite else math.nan,
        test_r2_max=max(finite) if finite else math.nan,
        median_seed=median.seed if median is not None else None,
        chosen_law=median.chosen_law if median is not None else "",
        fitted=sum(r.fitted for r in runs),
        wall_seconds=sum(r.wall_seconds for r in runs),
    )


def build_table(root: Path, config: BenchConfig, runs: Sequence[RunRow]) -> BenchTable:
    """The table of ``runs`` (in job order), with one summary row per task."""
    tasks = tuple(task_row(name, [r for r in runs if r.task == name]) for name in config.names)
    return BenchTable(root=str(root), config=config, tasks=tasks, runs=tuple(runs))


def read_bench(root: str | Path, *, errors: Mapping[str, str] | None = None) -> BenchTable:
    """The table of the bench in ``root``, read from its config and run stores.

    ``errors``: the last failure of each job (by key) as the running bench saw it.
    """
    root = Path(root)
    config = read_config(root)
    if config is None:
        raise ConfigError(
            f"no bench in {root} (no bench-config.json); pass a directory made by 'sld bench'"
        )
    errors = errors or {}
    runs = [read_run_row(root, job, error=errors.get(job.key, "")) for job in jobs(config)]
    return build_table(root, config, runs)
