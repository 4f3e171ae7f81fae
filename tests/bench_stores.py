"""Bench directories for tests: fixed run stores written through the store API, what a store
holds (to compare benches), and a run killed mid-search (``python tests/bench_stores.py kill``).

Fixed stores hold no clock in anything the table shows (wall time is set), so the
table, bench.md and the TUI snapshot depend only on the numbers given here.
"""

from __future__ import annotations

import collections
import math
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sld.bench import BenchConfig, bench_config, jobs
from sld.bench._plan import claim
from sld.config import RunConfig
from sld.corpus import load_task
from sld.evolve.population import Member, Population
from sld.fit import FitResult
from sld.report import REPORT_MD
from sld.scoring import parse_for_task
from sld.store import RunReader, RunStore

REPO = Path(__file__).resolve().parents[1]

# the flags of the tiny real benches (two generations of six proposals, no bootstrap)
TINY = ["--generations", "2", "--islands", "2", "--per-island", "3", "--restarts", "4"]
TINY += ["--bootstrap", "0"]


@dataclass(frozen=True)
class FixedRun:
    """What one fixed run shows: its laws (text, validation R²) — the first is chosen —,
    the test R² of the chosen and the human law, and how far it got."""

    laws: tuple[tuple[str, float], ...]
    test_r2: float = math.nan
    human_r2: float = math.nan
    state: str = "finished"  # finished | unfinished | unreported
    elapsed: float = 30.0


def _fit(task: Any, law: Any, value: float) -> FitResult:
    groups = list(task.groups)
    names = list(law.parameters)
    return FitResult(
        ok=True,
        groups=groups,
        parameter_names=names,
        parameters={g: {p: value for p in names} for g in groups},
        train_loss=0.01,
        group_loss={g: 0.01 for g in groups},
        converged=True,
        group_converged={g: True for g in groups},
        gradient_norm=1e-9,
        restarts=4,
        finite_restarts=4,
        iterations=10,
        seconds=0.1,
        compile_seconds=0.0,
    )


def write_fixed_run(run_dir: Path, config: RunConfig, run: FixedRun) -> None:
    """A run store as a run with ``run``'s outcome would leave it (no fitting involved)."""
    task = load_task(config.task.source)
    store = RunStore.create(
        run_dir,
        task=task.name,
        seed=config.seed,
        config=config.model_dump(mode="json"),
        versions={},
    )
    population = Population(islands=1, capacity=8, migration_interval=4)
    chosen_id = None
    for text, r2 in run.laws:
        law = parse_for_task(text, task)
        cid = store.add_candidate(
            text=law.text,
            generation=0,
            island=0,
            key=law.key,
            complexity=law.complexity,
            n_params=len(law.parameters),
            proposer="offline",
            operator="seed",
        )
        fit = _fit(task, law, 1.0)
        nmse = 1.0 - r2
        store.record_fit_and_score(
            cid,
            fit.model_dump(mode="json"),
            train_loss=fit.train_loss,
            ok=True,
            seconds=0.1,
            r2=r2,
            nmse=nmse,
            nmae=math.sqrt(nmse),
            error=nmse,
            report={},
        )
        population.add(
            Member(
                id=cid,
                key=law.key,
                text=law.text,
                complexity=law.complexity,
                n_params=len(law.parameters),
                error=nmse,
                r2=r2,
                island=0,
                generation=0,
            )
        )
        chosen_id = chosen_id or cid
    store.set_state("population", population.snapshot())
    store.set_state("generation", 0)
    store.set_state("elapsed", run.elapsed)
    if run.state != "unfinished":
        store.add_event("stopped", generation=1, payload={"reason": "generation budget (1)"})
    if run.state == "finished":
        chosen = store.candidate(chosen_id)
        store.record_heldout(
            kind="chosen", text=chosen.text, r2=run.test_r2, report={}, candidate_id=chosen_id
        )
        if math.isfinite(run.human_r2):
            store.record_heldout(kind="human", text=task.reference_law, r2=run.human_r2, report={})
        (run_dir / REPORT_MD).write_text("# fixed run\n")
    store.close()


def write_fixed_bench(
    root: Path, runs: dict[tuple[str, int], FixedRun | None], *, seeds: int
) -> BenchConfig:
    """A bench directory over the tasks named in ``runs`` with ``seeds`` seeds; each
    (task, seed) holds its fixed run, or nothing (``None`` or absent: not started)."""
    names = list(dict.fromkeys(task for task, _ in runs))
    config, _ = bench_config(
        [{"source": name} for name in names], seeds=seeds, run={"generations": 1}
    )
    root.mkdir(parents=True, exist_ok=True)
    claim(root, config)
    for job in jobs(config):
        fixed = runs.get((job.task, job.seed))
        if fixed is not None:
            write_fixed_run(root / job.run_dir, RunConfig.model_validate(job.config), fixed)
    return config


# -- what a store holds --------------------------------------------------------------------------


def trace(run_dir: Path) -> list[tuple[int, str, str]]:
    """Every candidate of a run as (seq, law, status): equal traces, same search."""
    with RunReader.open(run_dir) as reader:
        return [(c.seq, c.text, c.status) for c in reader.candidates()]


def fit_counts(run_dir: Path) -> collections.Counter[int]:
    """How many fit events each candidate has (1 each: none lost, none fitted twice)."""
    with RunReader.open(run_dir) as reader:
        events = reader.events()
    return collections.Counter(
        e.candidate_id for e in events if e.kind in ("fitted", "failed") and e.candidate_id
    )


def event_kinds(run_dir: Path) -> list[str]:
    """The run's event kinds in order."""
    with RunReader.open(run_dir) as reader:
        return [e.kind for e in reader.events()]


# -- a run killed mid-search ---------------------------------------------------------------------


def kill_after_fits(root: Path, key: str, fits: int) -> None:
    """Start the bench job ``key`` in ``root`` and SIGKILL this process once ``fits`` laws are
    fitted (the kill comes from the fitting thread, right after the fit is recorded)."""
    from sld.bench._plan import read_config
    from sld.run import Run, RunEvent

    config = read_config(root)
    assert config is not None, f"no bench in {root}"
    job = next(j for j in jobs(config) if j.key == key)

    def listener(event: RunEvent) -> None:
        if event.kind == "progress" and event.progress.fitted >= fits:
            os.kill(os.getpid(), signal.SIGKILL)

    run = Run.create(
        RunConfig.model_validate(job.config), run_dir=root / job.run_dir, listener=listener
    )
    run.execute()
    raise SystemExit("the run ended before it was killed")


def kill_after_fits_in_child(root: Path, key: str, fits: int) -> int:
    """Run :func:`kill_after_fits` in a child process (this checkout's sld); its exit code."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    child = subprocess.run(
        [sys.executable, str(Path(__file__)), "kill", str(root), key, str(fits)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode < 0, child.stderr  # killed by a signal, not an error
    return child.returncode


# -- tiny real benches ---------------------------------------------------------------------------

TINY_TASK = "parallel_scaling_law"


def tiny_args(out: Path, *extra: str) -> list[str]:
    """``sld bench`` on one task × 2 seeds with :data:`TINY` budgets, into ``out``."""
    return ["bench", TINY_TASK, "--seeds", "2", *TINY, "--out", str(out), "--quiet", *extra]


def tiny_bench(out: Path, *extra: str) -> int:
    """Run the tiny bench (two local workers unless ``extra`` says otherwise); its exit code."""
    from sld.cli import main

    jobs = [] if "--jobs" in extra or "--ray" in extra else ["--jobs", "2"]
    return main(tiny_args(out, *jobs, *extra))


def claim_tiny(out: Path) -> None:
    """Record the tiny bench in ``out`` exactly as :func:`tiny_bench` would, running nothing."""
    from sld.cli._args import build_parser
    from sld.cli.bench import config_from

    out.mkdir(parents=True)
    claim(out, config_from(build_parser().parse_args(tiny_args(out))))


if __name__ == "__main__":
    if sys.argv[1] == "kill":
        kill_after_fits(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
